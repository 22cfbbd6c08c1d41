// policies/ room: the policy pack entry point (PulumiPolicy.yaml main). Assembles the per-domain
// policies only. `new PolicyPack` starts serving at once, so tests import the domain files, never this.
import { PolicyPack } from '@pulumi/policy';
import { emailPolicies } from './email.ts';
import { identityPolicies } from './identity.ts';
import { keyVaultPolicies } from './key-vault.ts';
import { rolePolicies } from './roles.ts';
import { stackPolicies } from './stack.ts';

new PolicyPack('relaykit-guardrails', {
  enforcementLevel: 'mandatory',
  policies: [...identityPolicies, ...keyVaultPolicies, ...emailPolicies, ...rolePolicies, ...stackPolicies],
});
