// An in-process FleetEngine for the fleet tests: stacks in a Map, every operation recorded as one line
// ("createStack acme", "setConfig acme tenantId,…", "up acme") so tests assert the exact sequence.
// `up` runs a faked cloud: outputs computed from the stack's config the way the tenant program names
// them (infra/index.ts exports), with the credential expiry driven by the rotation keys.
import type {
  ChangeSummary,
  ConfigEntry,
  FleetEngine,
  StackConfig,
  StackOutputs,
  StackRow,
} from '../../fleet/src/engine.ts';

interface FakeStack {
  config: Record<string, ConfigEntry>;
  outputs: StackOutputs;
  updates: { at: string; result: string }[];
  resources: number;
}

const DAY = 86_400_000;

export interface FakeEngineOptions {
  /** The faked cloud's clock (credential expiry is computed from it). */
  readonly now: () => number;
  /** Clients whose `up` fails (the stack keeps its config: a rerun resumes). */
  readonly failUp?: Set<string>;
  /** Drift a refresh preview reports, per stack. */
  readonly drift?: Record<string, ChangeSummary>;
  /** ACS states per stack (default: every record Verified). */
  readonly acs?: Record<string, string[]>;
  /** Simulated cloud time per up (ms, awaited): excluded from the bench's figures. */
  readonly cloudDelayMs?: number;
}

export function fakeOutputs(
  config: Readonly<Record<string, ConfigEntry>>,
  now: number,
  acs?: string[],
): StackOutputs {
  const v = (k: string) => config[k]?.value ?? '';
  const sites = JSON.parse(v('sites') || '[]') as string[];
  const mailGen = Number(v('mailCertificateGeneration') || '1');
  const appGen = Number(v('applianceCertificateGeneration') || '1');
  // Certificate g<n> issued on RotatedAt (or, for g1, 300 days before the faked now): valid 365 days.
  const issued = (at: string, gen: number) => (gen === 1 || at === '' ? now - 300 * DAY : Date.parse(at));
  const slots = (gen: number, at: string) => {
    const cur = issued(at, gen);
    const list = [{ id: `g${gen}`, state: 'current', expires: new Date(cur + 365 * DAY).toISOString() }];
    if (gen > 1)
      list.push({
        id: `g${gen - 1}`,
        state: 'previous',
        expires: new Date(now + 65 * DAY).toISOString(),
        retiresAfter: new Date(cur + 30 * DAY).toISOString(),
      } as (typeof list)[number]);
    return list;
  };
  const bundles = Object.fromEntries(
    sites.map((s) => [s, JSON.stringify({ kind: 'relaykit-appliance-bundle', site: s, generation: appGen })]),
  );
  return {
    credentialExpiry: {
      value: {
        mailCredential: slots(mailGen, v('mailCertificateRotatedAt')),
        applianceCertificate: slots(appGen, v('applianceCertificateRotatedAt')),
      },
      secret: false,
    },
    exchangeScripts: { value: { 'mail-app-scope.ps1': `# scope for ${v('tenantId')}\n` }, secret: false },
    bundles: { value: bundles, secret: true },
    acsVerificationStatus: {
      value:
        v('acsEnabled') === 'true'
          ? (acs ?? ['Domain: Verified', 'SPF: Verified', 'DKIM: Verified', 'DKIM2: Verified'])
          : [],
      secret: false,
    },
    acsVerificationTable: { value: 'TYPE  NAME  VALUE', secret: false },
    dnsNotes: { value: [], secret: false },
  };
}

export class FakeEngine implements FleetEngine {
  readonly ops: string[] = [];
  readonly stacks = new Map<string, FakeStack>();
  /** Total faked cloud time awaited (the bench subtracts it). */
  cloudMs = 0;
  private readonly opts: FakeEngineOptions;
  constructor(opts: FakeEngineOptions) {
    this.opts = opts;
  }

  private get(name: string): FakeStack {
    const s = this.stacks.get(name);
    if (s === undefined) throw new Error(`no stack named '${name}' found`);
    return s;
  }
  async listStacks(): Promise<StackRow[]> {
    this.ops.push('listStacks');
    return [...this.stacks].map(([name, s]) => {
      const last = s.updates.at(-1);
      return {
        name,
        ...(last === undefined ? {} : { lastUpdate: last.at, result: last.result }),
        resourceCount: s.resources,
      };
    });
  }
  async hasStack(name: string) {
    return this.stacks.has(name);
  }
  async createStack(name: string) {
    this.ops.push(`createStack ${name}`);
    if (this.stacks.has(name)) throw new Error(`stack '${name}' already exists`);
    this.stacks.set(name, { config: {}, outputs: {}, updates: [], resources: 0 });
  }
  async setConfig(name: string, config: StackConfig) {
    this.ops.push(`setConfig ${name} ${Object.keys(config).join(',')}`);
    Object.assign(this.get(name).config, config);
  }
  async getConfig(name: string): Promise<StackConfig> {
    this.ops.push(`getConfig ${name}`);
    return { ...this.get(name).config };
  }
  async up(name: string, onOutput: (line: string) => void): Promise<StackOutputs> {
    this.ops.push(`up ${name}`);
    const s = this.get(name);
    onOutput('Updating (fake)');
    if (this.opts.cloudDelayMs) {
      const t = performance.now();
      await new Promise((r) => setTimeout(r, this.opts.cloudDelayMs));
      this.cloudMs += performance.now() - t;
    }
    const at = new Date(this.opts.now()).toISOString();
    if (this.opts.failUp?.has(name)) {
      s.updates.push({ at, result: 'failed' });
      throw new Error(`up ${name}: AuthorizationFailed: the client does not have authorization (fake)`);
    }
    s.outputs = fakeOutputs(s.config, this.opts.now(), this.opts.acs?.[name]);
    s.resources = 40;
    s.updates.push({ at, result: 'succeeded' });
    onOutput('Resources: 40 created');
    return s.outputs;
  }
  async outputs(name: string) {
    this.ops.push(`outputs ${name}`);
    return this.get(name).outputs;
  }
  async previewRefresh(name: string): Promise<ChangeSummary> {
    this.ops.push(`previewRefresh ${name}`);
    this.get(name);
    return this.opts.drift?.[name] ?? { same: 40 };
  }
  async destroy(name: string, onOutput: (line: string) => void) {
    this.ops.push(`destroy ${name}`);
    const s = this.get(name);
    onOutput(`Resources: ${s.resources} deleted`);
    s.resources = 0;
    s.outputs = {};
  }
  async removeStack(name: string) {
    this.ops.push(`removeStack ${name}`);
    this.get(name);
    this.stacks.delete(name);
  }
}
