// policies/ room, ACS Email domain: no open/click tracking on relayed mail, data kept in an allowed
// location, and Entra-only authentication on the Communication Service (no access keys).
import type { ResourceValidationPolicy } from '@pulumi/policy';

export const ACS = {
  emailService: 'azure-native:communication:EmailService',
  domain: 'azure-native:communication:Domain',
  communicationService: 'azure-native:communication:CommunicationService',
} as const;

export const userEngagementTrackingOff: ResourceValidationPolicy = {
  name: 'acs-user-engagement-tracking-off',
  description: 'ACS Email domains keep user engagement (open/click) tracking disabled.',
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    if (args.type !== ACS.domain) return;
    const v = args.props.userEngagementTracking;
    if (v !== 'Disabled') report(`userEngagementTracking is ${v ?? '(unset)'}; set it to Disabled`);
  },
};

export const acsDataLocation: ResourceValidationPolicy = {
  name: 'acs-data-location',
  description: 'ACS resources store data only in allowed locations.',
  enforcementLevel: 'mandatory',
  configSchema: {
    properties: {
      allowedDataLocations: {
        type: 'array',
        items: { type: 'string' },
        default: ['Europe', 'France', 'Germany', 'Norway', 'Switzerland', 'UK'],
        description: 'ACS dataLocation values accepted.',
      },
    },
  },
  validateResource: (args, report) => {
    if (args.type !== ACS.emailService && args.type !== ACS.communicationService) return;
    const { allowedDataLocations } = args.getConfig<{ allowedDataLocations: string[] }>();
    const loc = args.props.dataLocation;
    if (typeof loc !== 'string' || !allowedDataLocations.includes(loc)) {
      report(`dataLocation ${loc ?? '(unset)'} is not allowed; allowed: ${allowedDataLocations.join(', ')}`);
    }
  },
};

export const acsEntraOnly: ResourceValidationPolicy = {
  name: 'acs-local-auth-disabled',
  description:
    'Communication Services accept Entra tokens only (disableLocalAuth), so no access key can leak.',
  enforcementLevel: 'mandatory',
  validateResource: (args, report) => {
    if (args.type !== ACS.communicationService) return;
    if (args.props.disableLocalAuth !== true)
      report('disableLocalAuth must be true (access keys off, Entra auth only)');
  },
};

export const emailPolicies = [userEngagementTrackingOff, acsDataLocation, acsEntraOnly];
