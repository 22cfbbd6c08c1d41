// `npm run fleet:e2e`: the onboarding commands end to end on the REAL Pulumi engine — a local file
// backend in a temporary folder, the passphrase secrets provider, and an inline stand-in of the
// tenant program that creates no cloud resources (one component and the outputs `relaykit` reads).
// Stacks are really created, config and secrets really stored (the secret encrypted), `up` really
// runs, outputs are read back, `tenant remove` really destroys and deletes the stack. Needs the
// pulumi CLI on PATH (.ci/install/40-pulumi-cli.sh); not part of `npm test`, because building the
// CLI from Go modules takes longer than CI may (README "MSP onboarding").
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { stringify } from 'yaml';
import { runFleetCli } from '../../fleet/src/program.ts';
import { findPulumi, openPulumiEngine } from '../../fleet/src/pulumi-engine.ts';
import { captureIo } from '../helpers/io.ts';

const DAY = 86_400_000;

/** A component with no children: the stack has a resource besides itself, and no cloud is touched. */
class TenantStandIn extends pulumi.ComponentResource {
  constructor(name: string) {
    super('relaykit:index:TenantStandIn', name, {});
    this.registerOutputs({});
  }
}

/** The stand-in: config read like infra/config.ts, outputs shaped like infra/index.ts's. */
function standIn(): Record<string, unknown> {
  const cfg = new pulumi.Config('relaykit');
  const sites = cfg.requireObject<string[]>('sites');
  const appGen = Number(cfg.get('applianceCertificateGeneration') ?? '1');
  const mailGen = Number(cfg.get('mailCertificateGeneration') ?? '1');
  const hve = cfg.getSecret('hvePassword');
  new TenantStandIn(cfg.require('customerCode'));
  const slots = (gen: number) => [
    { id: `g${gen}`, state: 'current', expires: new Date(Date.UTC(2027, 11, 1) + gen * DAY).toISOString() },
    ...(gen > 1
      ? [
          {
            id: `g${gen - 1}`,
            state: 'previous',
            expires: new Date(Date.UTC(2027, 11, 1) + (gen - 1) * DAY).toISOString(),
          },
        ]
      : []),
  ];
  return {
    credentialExpiry: { mailCredential: slots(mailGen), applianceCertificate: slots(appGen) },
    exchangeScripts: { 'mail-app-scope.ps1': `# tenant ${cfg.require('tenantId')}\n` },
    bundles: pulumi.secret(
      Object.fromEntries(sites.map((s) => [s, JSON.stringify({ site: s, generation: appGen })])),
    ),
    acsVerificationStatus: ['Domain: Verified', 'SPF: NotStarted'],
    acsVerificationTable: 'TYPE  NAME  VALUE',
    hveSet: hve === undefined ? false : hve.apply((v) => v.length > 0),
  };
}

function check(ok: boolean, what: string): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) process.exitCode = 1;
}

const dir = mkdtempSync(join(tmpdir(), 'relaykit-e2e-'));
const backend = join(dir, 'state');
const out = join(dir, 'clients');
const { mkdirSync } = await import('node:fs');
mkdirSync(backend);
const env = {
  ...process.env,
  PULUMI_BACKEND_URL: `file://${backend}`,
  PULUMI_CONFIG_PASSPHRASE: 'e2e-passphrase',
  PULUMI_HOME: join(dir, 'pulumi-home'),
  PULUMI_SKIP_UPDATE_CHECK: 'true',
  ACME_HVE: 'hve-secret-value-42',
};
process.env.RELAYKIT_CLIENTS_DIR = out;
const engine = await openPulumiEngine({
  pulumi: findPulumi(env),
  env,
  workDir: dir,
  program: async () => standIn(),
});
const file = join(dir, 'clients.yaml');
writeFileSync(
  file,
  stringify({
    clients: [
      {
        name: 'acme',
        tenantId: '8f0e3c52-6a1b-4d2e-9c47-000000000001',
        subscription: '2c4d6e8f-1a3b-4c5d-8e7f-000000000001',
        domains: ['acme.example'],
        mailboxes: ['scanner@acme.example'],
        routes: ['graph', 'hve'],
        hveAccount: 'hve@acme.example',
        hvePasswordEnv: 'ACME_HVE',
        sites: [{ name: 'hq', deviceNetworks: ['10.1.0.0/24'] }],
      },
    ],
  }),
);
const run = async (argv: string[]) => {
  const io = captureIo();
  const t = performance.now();
  const code = await runFleetCli(argv, { io, env, fetch, engine: async () => engine });
  console.log(`relaykit ${argv.join(' ')} → exit ${code} in ${(performance.now() - t).toFixed(0)} ms`);
  if (code !== 0) console.log(io.err());
  return { code, stdout: io.out(), stderr: io.err() };
};

const add = await run(['tenant', 'add', 'acme', '--file', file]);
check(add.code === 0, 'tenant add acme');
const stackFile = join(backend, '.pulumi/stacks/relaykit/acme.json');
check(existsSync(stackFile), `stack state written in the file backend (${stackFile})`);
const state = readFileSync(stackFile, 'utf8');
check(!state.includes('hve-secret-value-42'), 'the HVE secret is not in the state in plain text');
const cfg = await engine.getConfig('acme');
check(
  cfg.hvePassword?.secret === true && cfg.hvePassword.value === 'hve-secret-value-42',
  'hvePassword stored as a secret, read back decrypted',
);
check(
  cfg.tenantId?.value === '8f0e3c52-6a1b-4d2e-9c47-000000000001' && cfg.tenantId.secret === false,
  'tenantId stored as plain config',
);
const outputs = await engine.outputs('acme');
check(outputs.bundles?.secret === true, 'bundles output is secret');
check(outputs.hveSet?.value === true, 'the program read the secret');
check(
  existsSync(join(out, 'acme/bundles/hq.json')) && existsSync(join(out, 'acme/exchange/mail-app-scope.ps1')),
  'client folder written',
);
const list = await run(['tenant', 'list']);
check(
  /^acme\s+\S+Z\s+succeeded\s+\d+\s+hq$/m.test(list.stdout),
  `tenant list: ${list.stdout.split('\n')[1]}`,
);
const status = await run(['tenant', 'status', 'acme', '--json']);
const s = JSON.parse(status.stdout);
check(
  s.drift === 'none' && s.acs[1].state === 'NotStarted',
  `tenant status: drift ${s.drift}, ACS ${s.acs.map((a: { record: string; state: string }) => `${a.record}=${a.state}`).join(' ')}`,
);
const rotate = await run(['tenant', 'rotate', 'acme', '--json']);
const r = JSON.parse(rotate.stdout);
check(
  r.config.applianceCertificateGeneration === '2' &&
    (await engine.getConfig('acme')).applianceCertificateGeneration?.value === '2',
  'tenant rotate: generation 2 stored',
);
check(
  JSON.parse(readFileSync(join(out, 'acme/bundles/hq.json'), 'utf8')).generation === 2,
  'tenant rotate: bundle rewritten for generation 2',
);
const remove = await run(['tenant', 'remove', 'acme', '--confirm', 'acme']);
check(
  remove.code === 0 && !existsSync(stackFile),
  'tenant remove: stack destroyed and deleted from the backend',
);
check((await engine.listStacks()).length === 0, 'no stacks left');
console.log(`backend folder: ${readdirSync(join(backend, '.pulumi')).join(', ')}`);
