// infra/ room: a stand-in for Azure, Entra and the TLS/random providers when the program runs under
// `pulumi.runtime.setMocks` (npm run plan, and the tests). It computes the outputs the real providers
// would (names, ARM IDs, client/object IDs, vault URI, ACS host name, domain verification records)
// deterministically from the inputs, and records every registration for inspection. Nothing here
// contacts a network; no Pulumi CLI is involved.
import { createHash, generateKeyPairSync } from 'node:crypto';
import type * as pulumi from '@pulumi/pulumi';
import { unwrapSecrets } from './mock-runtime.ts';

export {
  containsSecret,
  installMockCloud,
  outputValue,
  resourceTree,
  SECRET_SIG,
  SECRET_SIG_VALUE,
  settle,
  unwrapSecrets,
} from './mock-runtime.ts';

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly provider?: string;
  readonly custom: boolean;
  /** ID given by the `import` option, if any. */
  readonly importId?: string;
  /** Resource options as the monitor received them (filled by installMockCloud). */
  readonly options?: RecordedOptions;
}

export interface RecordedOptions {
  readonly urn: string;
  readonly protect: boolean;
  readonly retainOnDelete: boolean;
  readonly ignoreChanges: readonly string[];
  /** URNs this resource depends on (explicit dependsOn and inputs' dependencies). */
  readonly dependencies: readonly string[];
}

export interface MockCloudOptions {
  readonly subscriptionId: string;
  readonly tenantId: string;
  /** Report every ACS domain verification check as Verified (phase 2 of the domain link). */
  readonly domainVerified?: boolean;
}

export function fakeGuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

let keyPair: { pkcs1: string; pkcs8: string } | undefined;
function mockKey(): { pkcs1: string; pkcs8: string } {
  if (keyPair === undefined) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keyPair = {
      pkcs1: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      pkcs8: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  }
  return keyPair;
}

const str = (v: unknown, dflt = ''): string => (typeof v === 'string' ? v : dflt);

export class MockCloud implements pulumi.runtime.Mocks {
  readonly resources: RecordedResource[] = [];
  readonly calls: pulumi.runtime.MockCallArgs[] = [];
  /** Options of the registration being handled (set by installMockCloud's monitor wrapper). */
  pendingOptions: Omit<RecordedOptions, 'urn'> | undefined;
  private readonly opts: MockCloudOptions;

  constructor(opts: MockCloudOptions) {
    this.opts = opts;
  }

  newResource(args: pulumi.runtime.MockResourceArgs): {
    id: string | undefined;
    state: Record<string, unknown>;
  } {
    const inputs = (args.inputs ?? {}) as Record<string, unknown>;
    this.resources.push({
      type: args.type,
      name: args.name,
      inputs,
      ...(args.provider === undefined ? {} : { provider: args.provider }),
      custom: args.custom !== false,
      ...(args.id === undefined || args.id === '' ? {} : { importId: args.id }),
      ...(this.pendingOptions === undefined ? {} : { options: { urn: '', ...this.pendingOptions } }),
    });
    this.pendingOptions = undefined;
    if (args.custom === false) return { id: undefined, state: {} };
    return this.compute(args.type, args.name, inputs);
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    this.calls.push(args);
    switch (args.token) {
      case 'azure-native:authorization:getClientConfig':
        return {
          clientId: fakeGuid('deployer-client'),
          objectId: fakeGuid('deployer-object'),
          subscriptionId: this.opts.subscriptionId,
          tenantId: this.opts.tenantId,
        };
      case 'azuread:index/getServicePrincipal:getServicePrincipal':
        return {
          objectId: fakeGuid('graph-service-principal'),
          clientId: str(args.inputs.clientId),
          appRoleIds: {
            'Mail.Send': 'b633e1c5-b582-4048-a93e-9f11b44c7e96',
            'Mail.ReadWrite': 'e2a3a72e-5f79-4c64-b1b1-878b674786c9',
          },
        };
      default:
        return {};
    }
  }

  private compute(type: string, name: string, inputs: Record<string, unknown>) {
    const sub = this.opts.subscriptionId;
    const rg = str(inputs.resourceGroupName, 'rg');
    const arm = (provider: string, path: string) =>
      `/subscriptions/${sub}/resourceGroups/${rg}/providers/${provider}/${path}`;
    const plain = unwrapSecrets(inputs) as Record<string, unknown>;
    switch (type) {
      case 'pulumi:providers:azure-native':
      case 'pulumi:providers:azuread':
        return { id: fakeGuid(`provider:${name}`), state: inputs };
      case 'azuread:index/application:Application': {
        const objectId = fakeGuid(`application:${name}`);
        return {
          id: `/applications/${objectId}`,
          state: { ...inputs, clientId: fakeGuid(`client:${name}`), objectId },
        };
      }
      case 'azuread:index/servicePrincipal:ServicePrincipal': {
        const objectId = fakeGuid(`service-principal:${name}`);
        return { id: objectId, state: { ...inputs, objectId } };
      }
      case 'azuread:index/applicationPassword:ApplicationPassword':
        return {
          id: fakeGuid(`password:${name}`),
          state: { ...inputs, keyId: fakeGuid(`password:${name}`), value: `mock-client-secret-${name}` },
        };
      case 'azuread:index/applicationCertificate:ApplicationCertificate':
        return {
          id: fakeGuid(`certificate:${name}`),
          state: { ...inputs, keyId: fakeGuid(`certificate:${name}`) },
        };
      case 'tls:index/privateKey:PrivateKey': {
        const k = mockKey();
        return { id: name, state: { ...inputs, privateKeyPem: k.pkcs1, privateKeyPemPkcs8: k.pkcs8 } };
      }
      case 'tls:index/selfSignedCert:SelfSignedCert': {
        const hours = Number(plain.validityPeriodHours ?? 24);
        const body = Buffer.from(`relaykit MOCK certificate ${name} (not X.509; npm run plan only)`).toString(
          'base64',
        );
        return {
          id: name,
          state: {
            ...inputs,
            certPem: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`,
            validityStartTime: '2026-01-01T00:00:00Z',
            validityEndTime: new Date(Date.parse('2026-01-01T00:00:00Z') + hours * 3_600_000)
              .toISOString()
              .replace('.000Z', 'Z'),
          },
        };
      }
      case 'random:index/randomPassword:RandomPassword':
        return {
          id: name,
          state: {
            ...inputs,
            result: `mock-random-${createHash('sha256').update(name).digest('hex').slice(0, 24)}`,
          },
        };
      case 'azure-native:resources:ResourceGroup': {
        const n = str(inputs.resourceGroupName, name);
        return { id: `/subscriptions/${sub}/resourceGroups/${n}`, state: { ...inputs, name: n } };
      }
      case 'azure-native:keyvault:Vault': {
        const n = str(inputs.vaultName, name);
        const props = (plain.properties ?? {}) as Record<string, unknown>;
        return {
          id: arm('Microsoft.KeyVault', `vaults/${n}`),
          state: { ...inputs, name: n, properties: { ...props, vaultUri: `https://${n}.vault.azure.net/` } },
        };
      }
      case 'azure-native:keyvault:Secret': {
        const n = str(inputs.secretName, name);
        const vault = str(inputs.vaultName);
        return {
          id: arm('Microsoft.KeyVault', `vaults/${vault}/secrets/${n}`),
          state: { name: n, properties: { secretUri: `https://${vault}.vault.azure.net/secrets/${n}` } },
        };
      }
      case 'azure-native:communication:EmailService': {
        const n = str(inputs.emailServiceName, name);
        return { id: arm('Microsoft.Communication', `emailServices/${n}`), state: { ...inputs, name: n } };
      }
      case 'azure-native:communication:Domain':
        return this.domain(name, inputs, arm);
      case 'azure-native:communication:SenderUsername': {
        const n = str(inputs.senderUsername, name);
        return {
          id: arm(
            'Microsoft.Communication',
            `emailServices/${str(inputs.emailServiceName)}/domains/${str(inputs.domainName)}/senderUsernames/${n}`,
          ),
          state: { ...inputs, name: n },
        };
      }
      case 'azure-native:communication:CommunicationService': {
        const n = str(inputs.communicationServiceName, name);
        const geo = str(inputs.dataLocation, 'unitedstates').toLowerCase().replace(/\s+/g, '');
        return {
          id: arm('Microsoft.Communication', `communicationServices/${n}`),
          state: { ...inputs, name: n, hostName: `${n}.${geo}.communication.azure.com` },
        };
      }
      case 'azure-native:communication:SmtpUsername': {
        const n = str(inputs.smtpUsername, name);
        return {
          id: arm(
            'Microsoft.Communication',
            `communicationServices/${str(inputs.communicationServiceName)}/smtpUsernames/${n}`,
          ),
          state: { ...inputs, name: n },
        };
      }
      case 'azure-native:authorization:RoleAssignment': {
        const n = fakeGuid(`role-assignment:${name}`);
        return {
          id: `${str(plain.scope)}/providers/Microsoft.Authorization/roleAssignments/${n}`,
          state: { ...inputs, name: n },
        };
      }
      case 'azure-native:authorization:RoleDefinition': {
        const id = str(plain.roleDefinitionId, fakeGuid(`role-definition:${name}`));
        return {
          id: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${id}`,
          state: { ...inputs, name: id },
        };
      }
      case 'azure-native:authorization:ManagementLockByScope':
        return {
          id: `${str(plain.scope)}/providers/Microsoft.Authorization/locks/${str(plain.lockName, name)}`,
          state: { ...inputs, name: str(plain.lockName, name) },
        };
      case 'azure-native:monitor:DiagnosticSetting':
        return {
          id: `${str(plain.resourceUri)}/providers/Microsoft.Insights/diagnosticSettings/${str(plain.name, name)}`,
          state: inputs,
        };
      case 'azure-native:operationalinsights:Workspace': {
        const n = str(inputs.workspaceName, name);
        return { id: arm('Microsoft.OperationalInsights', `workspaces/${n}`), state: { ...inputs, name: n } };
      }
      case 'pulumi-nodejs:dynamic:Resource':
        return this.dynamic(name, plain);
      case 'azure-native:dns:RecordSet': {
        const rel = str(plain.relativeRecordSetName, '@');
        const zone = str(inputs.zoneName);
        return {
          id: arm('Microsoft.Network', `dnsZones/${zone}/${str(inputs.recordType)}/${rel}`),
          state: { ...inputs, name: rel, fqdn: `${rel === '@' ? '' : `${rel}.`}${zone}.` },
        };
      }
      default:
        return { id: `${name}-id`, state: inputs };
    }
  }

  /** relaykit's dynamic providers (inputs carry `relaykit: <kind>`): outputs as a real run would give. */
  private dynamic(name: string, plain: Record<string, unknown>) {
    const kinds = (Array.isArray(plain.kinds) ? plain.kinds : []) as string[];
    switch (plain.relaykit) {
      case 'domain-verification':
        return {
          id: `${str(plain.domainId)}/initiateVerification`,
          state: { ...plain, results: Object.fromEntries(kinds.map((k) => [k, 'requested'])) },
        };
      case 'domain-link':
        return {
          id: `${str(plain.communicationServiceId)}/linkedDomains/${name}`,
          state: {
            ...plain,
            linked: this.opts.domainVerified === true,
            status:
              this.opts.domainVerified === true
                ? 'phase 2: verified and linked'
                : 'phase 2 waiting: not yet verified (Domain=NotStarted, SPF=NotStarted, DKIM=NotStarted, DKIM2=NotStarted); run `pulumi up` again later',
          },
        };
      default:
        return { id: `${name}-id`, state: plain };
    }
  }

  private domain(name: string, inputs: Record<string, unknown>, arm: (p: string, path: string) => string) {
    const domainName = str(inputs.domainName, name);
    const managed = inputs.domainManagement === 'AzureManaged';
    const id = arm(
      'Microsoft.Communication',
      `emailServices/${str(inputs.emailServiceName)}/domains/${domainName}`,
    );
    const fromDomain = managed ? `${fakeGuid(`azurecomm:${name}`)}.azurecomm.net` : domainName;
    const status = managed || this.opts.domainVerified === true ? 'Verified' : 'NotStarted';
    const st = { status, errorCode: '' };
    const records = managed
      ? {}
      : {
          domain: {
            name: domainName,
            type: 'TXT',
            value: `ms-domain-verification=${fakeGuid(`verify:${domainName}`)}`,
            ttl: 3600,
          },
          sPF: {
            name: domainName,
            type: 'TXT',
            value: 'v=spf1 include:spf.protection.outlook.com -all',
            ttl: 3600,
          },
          dKIM: {
            name: 'selector1-azurecomm-prod-net._domainkey',
            type: 'CNAME',
            value: 'selector1-azurecomm-prod-net._domainkey.azurecomm.net',
            ttl: 3600,
          },
          dKIM2: {
            name: 'selector2-azurecomm-prod-net._domainkey',
            type: 'CNAME',
            value: 'selector2-azurecomm-prod-net._domainkey.azurecomm.net',
            ttl: 3600,
          },
        };
    return {
      id,
      state: {
        ...inputs,
        name: domainName,
        fromSenderDomain: fromDomain,
        mailFromSenderDomain: fromDomain,
        verificationRecords: records,
        verificationStates: managed
          ? { domain: st, sPF: st, dKIM: st, dKIM2: st }
          : { domain: st, sPF: st, dKIM: st, dKIM2: st, dMARC: { status: 'NotStarted', errorCode: '' } },
      },
    };
  }
}
