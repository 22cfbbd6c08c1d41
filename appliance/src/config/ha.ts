// Config of the opt-in edge pair (`ha:`): two appliance VMs share one virtual IPv4 address through
// VRRP (keepalived, in the VM image). Each node carries its own `ha` block — same address, router id
// and interface, its own priority, the other node as peer — and keeps its own spool. Defaults live
// here with units; ops/keepalived-conf.ts renders keepalived.conf from it; docs/edge-pair.md explains.
import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { duration } from './fields.ts';

const ipv4 = z.string().refine((s) => isIPv4(s), 'must be an IPv4 address such as 192.168.10.11');

/** "192.168.10.25/24": the shared address and the prefix length of its subnet. */
const ipv4WithPrefix = z.string().superRefine((s, ctx) => {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  const prefix = m ? Number(m[2]) : Number.NaN;
  if (!m || !isIPv4(m[1] ?? '') || prefix < 1 || prefix > 32) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be an IPv4 address with its prefix length, such as 192.168.10.25/24',
      input: s,
    });
  }
});

/** Whole seconds within [min, max]: VRRPv2 and keepalived's script timer count in seconds. */
function seconds(min: number, max: number, fallback: number) {
  return duration
    .refine((ms) => ms % 1000 === 0 && ms >= min * 1000 && ms <= max * 1000, {
      message: `must be whole seconds from ${min}s to ${max}s`,
    })
    .default(fallback * 1000);
}

export const haSchema = z.strictObject({
  /** The address devices send to, with the prefix length of its subnet; held by one node at a time. */
  virtualAddress: ipv4WithPrefix,
  /** Network interface that carries the address and the VRRP adverts (`ip -br link`: ens18, eth0). */
  interface: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/, 'must be an interface name such as eth0 or ens18'),
  /** VRRP virtual router id: the same on both nodes, unique among VRRP routers on the segment. */
  routerId: z.number().int().min(1).max(255),
  /**
   * This node's priority, 2-254: of the ready nodes, the higher one holds the address. A node whose
   * /readyz fails drops to 1. Give the two nodes different priorities; equal ones make the address
   * stay where it is when the other node becomes ready again (no move back).
   */
  priority: z.number().int().min(2).max(254),
  /** The other node's own address: adverts are unicast to it, and only its adverts are accepted. */
  peers: z.array(ipv4).min(1).max(8),
  /** This node's own address, the source of its adverts. Default: the interface's primary address. */
  unicastSource: ipv4.optional(),
  /** Seconds between adverts; the backup takes over about 3 intervals after the master's last one. */
  advertInterval: seconds(1, 255, 1),
  /** Readiness check: keepalived asks this node's /readyz (status server) this often. */
  check: z
    .strictObject({
      interval: seconds(1, 60, 1),
      /** A check that has not answered within this counts as failed. */
      timeout: seconds(1, 60, 2),
      /** Failed checks in a row before the node gives up the address. */
      fall: z.number().int().min(1).max(10).default(2),
      /** Passed checks in a row before the node may hold the address again. */
      rise: z.number().int().min(1).max(10).default(2),
    })
    .prefault({}),
  /**
   * VRRPv2 simple password (at most 8 characters, sent in clear text): only guards against another
   * VRRP router on the segment using the same router id by mistake. The peers list is the guard.
   */
  authPassword: z
    .string()
    .regex(/^[!-~]{1,8}$/, 'must be 1-8 printable characters without spaces (VRRP uses only 8)')
    .refine((s) => !/["'\\#!]/.test(s), 'must not contain quotes, backslashes, # or !')
    .optional(),
});

export type HaConfig = z.output<typeof haSchema>;

interface HaContext {
  readonly ha?: HaConfig;
  readonly listeners: readonly { readonly address: string }[];
  readonly http: { readonly enabled: boolean };
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/** Cross-checks between `ha` and the rest of the config, each naming its key path. */
export function haIssues(cfg: HaContext): { path: (string | number)[]; message: string }[] {
  const ha = cfg.ha;
  if (ha === undefined) return [];
  const out: { path: (string | number)[]; message: string }[] = [];
  const vip = ha.virtualAddress.split('/')[0] ?? '';
  if (!cfg.http.enabled) {
    out.push({
      path: ['http', 'enabled'],
      message:
        'ha needs the status server: keepalived asks its /readyz whether this node may hold the address',
    });
  }
  cfg.listeners.forEach((l, i) => {
    if (l.address === vip) {
      out.push({
        path: ['listeners', i, 'address'],
        message: `${vip} is ha.virtualAddress, which only the master holds: the relay could not start on the backup; bind 0.0.0.0`,
      });
    }
  });
  if (!cfg.listeners.some((l) => WILDCARDS.has(l.address))) {
    out.push({
      path: ['ha', 'virtualAddress'],
      message: `no listener accepts on ${vip}: give one listener address 0.0.0.0 so it takes mail on whichever addresses the node holds`,
    });
  }
  const own = ha.unicastSource;
  ha.peers.forEach((p, i) => {
    if (p === vip)
      out.push({ path: ['ha', 'peers', i], message: 'a peer is a node address, not the virtual address' });
    if (p === own)
      out.push({ path: ['ha', 'peers', i], message: 'is this node (ha.unicastSource): list the other node' });
    if (ha.peers.indexOf(p) !== i) out.push({ path: ['ha', 'peers', i], message: `duplicate peer ${p}` });
  });
  if (own === vip) {
    out.push({
      path: ['ha', 'unicastSource'],
      message: "must be this node's own address, not the virtual address",
    });
  }
  return out;
}
