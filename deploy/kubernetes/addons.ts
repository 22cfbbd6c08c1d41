// deploy/kubernetes: the optional parts — a Prometheus Operator ServiceMonitor (off by default) and
// the Key Vault Secrets Store CSI driver in place of the config Secret (off by default).
import type { ManifestOptions } from './options.ts';
import { metadata, peersLabels } from './options.ts';
import { choose, document } from './values.ts';

/** The CSI driver's name (secrets-store-csi-driver) and the Azure provider's name. */
const CSI_DRIVER = 'secrets-store.csi.k8s.io';

/**
 * Scrapes /metrics on each pod's admin listener (TLS, admin.listener on adminPort) with the
 * monitoring bearer token; the status port answers /metrics without a token, so it is not the one to
 * scrape across the cluster. The listener's certificate is the per-pod self-signed one unless the
 * config names a pair, hence no verification of it: the token is what authenticates, the
 * NetworkPolicy limits who can connect.
 */
export function serviceMonitor(o: ManifestOptions) {
  const m = o.serviceMonitor;
  return document(m.enabled, () => ({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: metadata(o, o.name),
    spec: {
      selector: { matchLabels: peersLabels(o) },
      endpoints: [
        {
          port: 'admin',
          scheme: 'https',
          path: '/metrics',
          interval: m.interval,
          authorization: { type: 'Bearer', credentials: { name: m.tokenSecret, key: m.tokenKey } },
          tlsConfig: { insecureSkipVerify: true },
        },
      ],
    },
  }));
}

/** Objects the Azure provider reads: file name in the volume ← Key Vault secret. */
function keyVaultObjects(o: ManifestOptions): string {
  const item = (secret: string, file: string) =>
    `    - |\n      objectName: ${secret}\n      objectType: secret\n      objectAlias: ${file}\n`;
  return `array:\n${item(o.keyVault.configObject, 'config.yaml')}${item(o.keyVault.bundleObject, 'relaykit-bundle.json')}`;
}

/** SecretProviderClass for the Azure Key Vault provider with workload identity. */
export function keyVaultProviderClass(o: ManifestOptions) {
  const kv = o.keyVault;
  return document(kv.enabled, () => ({
    apiVersion: 'secrets-store.csi.x-k8s.io/v1',
    kind: 'SecretProviderClass',
    metadata: metadata(o, `${o.name}-config`),
    spec: {
      provider: 'azure',
      parameters: {
        usePodIdentity: 'false',
        clientID: kv.clientId,
        keyvaultName: kv.vaultName,
        tenantID: kv.tenantId,
        objects: keyVaultObjects(o),
      },
    },
  }));
}

/** The config volume: the Secret by default, the CSI driver with keyVault.enabled. */
export function configVolume(o: ManifestOptions) {
  return {
    name: 'config',
    ...choose(
      o.keyVault.enabled,
      [
        'csi',
        () => ({
          driver: CSI_DRIVER,
          readOnly: true,
          volumeAttributes: { secretProviderClass: `${o.name}-config` },
        }),
      ],
      ['secret', () => ({ secretName: o.configSecret })],
    ),
  };
}
