// fleet/ room: FleetEngine over the Pulumi Automation API (LocalWorkspace). The only file of the
// room that imports @pulumi/pulumi; main.ts loads it lazily so --help and usage errors need neither
// the SDK nor the CLI. The backend (PULUMI_BACKEND_URL: file://, azblob://, Pulumi Cloud) and the
// secrets provider (passphrase via PULUMI_CONFIG_PASSPHRASE[_FILE], or azurekeyvault://) come from
// the environment, as they do for the pulumi CLI itself.
import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import {
  type ConfigMap,
  LocalWorkspace,
  type LocalWorkspaceOptions,
  PulumiCommand,
  type PulumiFn,
  type Stack,
} from '@pulumi/pulumi/automation/index.js';
import { FleetError } from './cli-kit.ts';
import type { FleetEngine, StackConfig, StackOutputs } from './engine.ts';

const NS = 'relaykit';
const PROJECT = 'relaykit';

export const INSTALL_HINT =
  'relaykit: the pulumi CLI is not on PATH; install it (https://www.pulumi.com/docs/iac/download-install/: curl -fsSL https://get.pulumi.com | sh) or build it from Go modules with bash .ci/install/40-pulumi-cli.sh';

/** The directory holding an executable `pulumi` on PATH; throws the one-line install hint otherwise. */
export function findPulumi(env: Readonly<Record<string, string | undefined>>): string {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, 'pulumi'), constants.X_OK);
      return join(dir, 'pulumi');
    } catch {}
  }
  throw new FleetError(INSTALL_HINT);
}

export interface PulumiEngineOptions {
  /** Path of the pulumi binary (findPulumi). */
  readonly pulumi: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory of Pulumi.yaml (the tenant program); ignored when `program` is given. */
  readonly workDir: string;
  /** An inline program instead of the one in workDir (the end-to-end test's stand-in). */
  readonly program?: PulumiFn;
  /** Secrets provider for new stacks: "passphrase" (default) or azurekeyvault://vault/keys/key. */
  readonly secretsProvider?: string;
}

export async function openPulumiEngine(opts: PulumiEngineOptions): Promise<FleetEngine> {
  // The CLI lives in <root>/bin/pulumi or <root>/pulumi; PulumiCommand wants the root of bin/.
  const binDir = dirname(opts.pulumi);
  const root = binDir.endsWith('/bin') ? dirname(binDir) : binDir;
  const pulumiCommand = await PulumiCommand.get({ root, skipVersionCheck: true }).catch(() =>
    PulumiCommand.get({ skipVersionCheck: true }),
  );
  const envVars = Object.fromEntries(
    Object.entries(opts.env).filter(
      (e): e is [string, string] => e[1] !== undefined && /^(PULUMI_|AZURE_|ARM_|PATH$|HOME$)/.test(e[0]),
    ),
  );
  const wsOpts: LocalWorkspaceOptions = {
    pulumiCommand,
    envVars,
    secretsProvider: opts.secretsProvider ?? opts.env.RELAYKIT_SECRETS_PROVIDER ?? 'passphrase',
    ...(opts.program === undefined
      ? { workDir: opts.workDir }
      : { program: opts.program, projectSettings: { name: PROJECT, runtime: 'nodejs' } }),
  };
  const ws = await LocalWorkspace.create(wsOpts);
  const stacks = new Map<string, Stack>();
  const select = async (name: string): Promise<Stack> => {
    const known = stacks.get(name);
    if (known !== undefined) return known;
    const s =
      opts.program === undefined
        ? await LocalWorkspace.selectStack({ stackName: name, workDir: opts.workDir }, wsOpts)
        : await LocalWorkspace.selectStack(
            { stackName: name, projectName: PROJECT, program: opts.program },
            wsOpts,
          );
    stacks.set(name, s);
    return s;
  };
  const outputsOf = (o: Record<string, { value: unknown; secret: boolean }>): StackOutputs =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { value: v.value, secret: v.secret }]));

  return {
    async listStacks() {
      const list = await ws.listStacks();
      return Promise.all(
        list.map(async (s) => {
          const last = (await (await select(s.name)).history(1).catch(() => []))[0];
          return {
            name: s.name,
            ...(s.lastUpdate === undefined ? {} : { lastUpdate: new Date(s.lastUpdate).toISOString() }),
            ...(last === undefined ? {} : { result: last.result }),
            ...(s.resourceCount === undefined ? {} : { resourceCount: s.resourceCount }),
          };
        }),
      );
    },
    async hasStack(name) {
      return (await ws.listStacks()).some((s) => s.name === name);
    },
    async createStack(name) {
      const s =
        opts.program === undefined
          ? await LocalWorkspace.createStack({ stackName: name, workDir: opts.workDir }, wsOpts)
          : await LocalWorkspace.createStack(
              { stackName: name, projectName: PROJECT, program: opts.program },
              wsOpts,
            );
      stacks.set(name, s);
    },
    async setConfig(name, config) {
      const map: ConfigMap = {};
      for (const [k, v] of Object.entries(config)) map[`${NS}:${k}`] = { value: v.value, secret: v.secret };
      await (await select(name)).setAllConfig(map);
    },
    async getConfig(name) {
      const all = await (await select(name)).getAllConfig();
      const out: Record<string, { value: string; secret: boolean }> = {};
      for (const [k, v] of Object.entries(all))
        if (k.startsWith(`${NS}:`))
          out[k.slice(NS.length + 1)] = { value: v.value, secret: v.secret ?? false };
      return out as StackConfig;
    },
    async up(name, onOutput) {
      const r = await (await select(name)).up({
        onOutput: (t) =>
          t
            .split('\n')
            .filter((l) => l.trim() !== '')
            .forEach(onOutput),
      });
      return outputsOf(r.outputs);
    },
    async outputs(name) {
      return outputsOf(await (await select(name)).outputs());
    },
    async previewRefresh(name) {
      const r = await (await select(name)).previewRefresh();
      return r.changeSummary as Record<string, number>;
    },
    async destroy(name, onOutput) {
      await (await select(name)).destroy({
        onOutput: (t) =>
          t
            .split('\n')
            .filter((l) => l.trim() !== '')
            .forEach(onOutput),
      });
    },
    async removeStack(name) {
      await ws.removeStack(name);
      stacks.delete(name);
    },
  };
}
