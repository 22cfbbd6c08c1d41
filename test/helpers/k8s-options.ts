// Test helper: the Key Vault CSI options the deploy/kubernetes tests turn on (a client's vault, its
// tenant and the workload identity's client ID; made-up IDs).
export const KEY_VAULT_ON = {
  enabled: true,
  vaultName: 'kv-rk-fabrikam',
  tenantId: '8f0e3c52-6a1b-4d2e-9c47-3b5a1f2e7d90',
  clientId: '2b7c1d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e',
} as const;
