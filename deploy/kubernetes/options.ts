// deploy/kubernetes: the renderer's options — what a chart value, a Pulumi argument or the defaults
// of relaykit.yaml can set — and the labels and metadata every object shares.

export interface ServiceMonitorOptions {
  /** Render a monitoring.coreos.com/v1 ServiceMonitor (needs the Prometheus Operator's CRDs). */
  readonly enabled: boolean;
  readonly interval: string;
  /** Secret (and key) holding the config's admin.monitoringToken value: sent as a bearer token. */
  readonly tokenSecret: string;
  readonly tokenKey: string;
}

export interface KeyVaultCsiOptions {
  /** Mount config and bundle from Key Vault through the Secrets Store CSI driver instead of a Secret. */
  readonly enabled: boolean;
  readonly vaultName: string;
  readonly tenantId: string;
  /** Client ID of the workload identity (user-assigned managed identity) allowed to read the vault. */
  readonly clientId: string;
  /** Service account federated with that identity. */
  readonly serviceAccountName: string;
  /** Key Vault secret holding config.yaml. */
  readonly configObject: string;
  /** Key Vault secret holding relaykit-bundle.json. */
  readonly bundleObject: string;
}

export interface ManifestOptions {
  readonly name: string;
  readonly namespace: string;
  readonly image: string;
  readonly replicas: number;
  /** Size of each pod's spool volume. */
  readonly spoolSize: string;
  /** Storage class of the spool volumes; empty: the cluster's default class. */
  readonly storageClassName: string;
  /** Secret holding config.yaml and relaykit-bundle.json (unless keyVault.enabled). */
  readonly configSecret: string;
  /** SMTP port inside the pod (the config's listener) and on the Service. */
  readonly smtpPort: number;
  readonly servicePort: number;
  /** The config's status port (http.port): /readyz, /healthz, /metrics. */
  readonly statusPort: number;
  /** The config's admin listener port (admin.listener.port, TLS): what the ServiceMonitor scrapes. */
  readonly adminPort: number;
  /** delivery.drainTimeout in seconds; the grace period must exceed it. */
  readonly drainSeconds: number;
  /** Client ranges allowed to reach SMTP (NetworkPolicy); empty: from anywhere. */
  readonly smtpClientCidrs: readonly string[];
  readonly serviceMonitor: ServiceMonitorOptions;
  readonly keyVault: KeyVaultCsiOptions;
}

export const DEFAULT_OPTIONS: ManifestOptions = {
  name: 'relaykit',
  namespace: 'relaykit',
  image: 'relaykit-appliance:0.1.0',
  replicas: 2,
  spoolSize: '5Gi',
  storageClassName: '',
  configSecret: 'relaykit-config',
  smtpPort: 2525,
  servicePort: 25,
  statusPort: 8025,
  adminPort: 8443,
  drainSeconds: 30,
  smtpClientCidrs: [],
  serviceMonitor: {
    enabled: false,
    interval: '30s',
    tokenSecret: 'relaykit-monitoring',
    tokenKey: 'token',
  },
  keyVault: {
    enabled: false,
    vaultName: '',
    tenantId: '',
    clientId: '',
    serviceAccountName: 'relaykit',
    configObject: 'relaykit-config-yaml',
    bundleObject: 'relaykit-bundle-json',
  },
};

/** A rendered Kubernetes object. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
} & Record<string, unknown>;

/** DEFAULT_OPTIONS with some keys (one level into serviceMonitor / keyVault) replaced. */
export interface OptionOverrides extends Partial<Omit<ManifestOptions, 'serviceMonitor' | 'keyVault'>> {
  readonly serviceMonitor?: Partial<ServiceMonitorOptions>;
  readonly keyVault?: Partial<KeyVaultCsiOptions>;
}

export function withDefaults(over: OptionOverrides = {}): ManifestOptions {
  return {
    ...DEFAULT_OPTIONS,
    ...over,
    serviceMonitor: { ...DEFAULT_OPTIONS.serviceMonitor, ...over.serviceMonitor },
    keyVault: { ...DEFAULT_OPTIONS.keyVault, ...over.keyVault },
  };
}

/** The labels every object carries; the selector of pods, PDB and NetworkPolicy. */
export function selectorLabels(o: ManifestOptions): Record<string, string> {
  return { 'app.kubernetes.io/name': 'relaykit', 'app.kubernetes.io/instance': o.name };
}

/** Labels of the headless peers Service (the ServiceMonitor selects it, not the SMTP one). */
export function peersLabels(o: ManifestOptions): Record<string, string> {
  return { ...selectorLabels(o), 'app.kubernetes.io/component': 'peers' };
}

/** Labels of `queue handoff` Job pods: not the relay's, so Services, PDB and StatefulSet skip them. */
export function handoffLabels(o: ManifestOptions): Record<string, string> {
  return { 'app.kubernetes.io/name': 'relaykit-handoff', 'app.kubernetes.io/instance': o.name };
}

export function metadata(o: ManifestOptions, name: string, labels = selectorLabels(o)) {
  return { name, namespace: o.namespace, labels };
}
