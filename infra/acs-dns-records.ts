// infra/ room: the ACS domain's records in the client's Azure DNS zone. Which record sets exist is
// decided from config alone (no resources inside apply); only names and values come from the
// domain's outputs. The TXT record sets at the domain name and at _dmarc are shared with the rest of
// the domain's mail (SPF, MS=…, other senders), so they are merged, never replaced wholesale, carry
// `retainOnDelete` (destroying or re-creating the stack leaves them in the zone) and a delete lock.
import * as azure from '@pulumi/azure-native';
import * as pulumi from '@pulumi/pulumi';
import {
  absoluteName,
  domainTxtPlan,
  txtChunks,
  type VerificationRecordsOutput,
  zoneRelativeName,
} from './acs-dns.ts';
import type { ApexTxtMode } from './config-keys.ts';
import { deleteLock } from './guardrails.ts';

export interface AcsDnsArgs {
  /** Azure DNS zone holding the sending domain (same subscription). */
  zoneName: string;
  zoneResourceGroup: string;
  /** What to do with the TXT record set at the domain name (see acs-dns.ts domainTxtPlan). */
  apexTxt: ApexTxtMode;
  /** TXT values already published at the domain name (for adopt/merge/manual advice). */
  existingApexTxt: readonly string[];
}

export function dnsRecordSetId(
  subscriptionId: string,
  resourceGroup: string,
  zone: string,
  type: string,
  rel: string,
) {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Network/dnsZones/${zone}/${type}/${rel}`;
}

export interface AcsDnsRecords {
  /** The record sets created (verification waits for them). */
  readonly resources: pulumi.Resource[];
  /** True when the TXT record set at the domain name is managed here (then verification can start). */
  readonly txtManaged: boolean;
  readonly notes: pulumi.Output<string[]>;
}

export function acsDnsRecords(
  name: string,
  parent: pulumi.Resource,
  args: {
    dns: AcsDnsArgs;
    domainFqdn: string;
    records: pulumi.Output<VerificationRecordsOutput | undefined>;
    dmarcPolicy?: string;
    subscriptionId: string;
    lock: boolean;
  },
): AcsDnsRecords {
  const { dns, domainFqdn, records } = args;
  const resources: pulumi.Resource[] = [];
  const txtRel = zoneRelativeName(domainFqdn, dns.zoneName);
  const plan = records.apply((r) =>
    domainTxtPlan(
      dns.apexTxt,
      dns.existingApexTxt,
      [r?.domain?.value, r?.sPF?.value].filter((v): v is string => typeof v === 'string' && v !== ''),
    ),
  );
  const shared = (n: string, rel: string, values: pulumi.Input<string[]>, importExisting: boolean) => {
    const set = new azure.dns.RecordSet(
      n,
      {
        resourceGroupName: dns.zoneResourceGroup,
        zoneName: dns.zoneName,
        relativeRecordSetName: rel,
        recordType: 'TXT',
        ttl: 3600,
        txtRecords: pulumi.output(values).apply((vs) => vs.map((v) => ({ value: txtChunks(v) }))),
      },
      {
        parent,
        retainOnDelete: true,
        ...(importExisting
          ? { import: dnsRecordSetId(args.subscriptionId, dns.zoneResourceGroup, dns.zoneName, 'TXT', rel) }
          : {}),
      },
    );
    if (args.lock) deleteLock(n, set.id, `the TXT record set ${rel} in ${dns.zoneName}`, parent);
    resources.push(set);
  };
  const planNow = domainTxtPlan(dns.apexTxt, dns.existingApexTxt, []);
  if (planNow.manage) {
    shared(
      `${name}-txt`,
      txtRel,
      plan.apply((p) => p.values),
      planNow.importExisting,
    );
  }
  for (const [kind, key] of [
    ['dkim', 'dKIM'],
    ['dkim2', 'dKIM2'],
  ] as const) {
    const rec = records.apply((r) => r?.[key]);
    resources.push(
      new azure.dns.RecordSet(
        `${name}-${kind}`,
        {
          resourceGroupName: dns.zoneResourceGroup,
          zoneName: dns.zoneName,
          relativeRecordSetName: rec.apply((x) =>
            zoneRelativeName(absoluteName(x?.name ?? `${kind}`, domainFqdn), dns.zoneName),
          ),
          recordType: 'CNAME',
          ttl: 3600,
          cnameRecord: { cname: rec.apply((x) => x?.value ?? '') },
        },
        { parent },
      ),
    );
  }
  if (args.dmarcPolicy !== undefined) {
    // Created, never imported: azure-native refuses to create over an existing _dmarc record set.
    shared(
      `${name}-dmarc`,
      zoneRelativeName(`_dmarc.${domainFqdn}`, dns.zoneName),
      [args.dmarcPolicy],
      false,
    );
  }
  return { resources, txtManaged: planNow.manage, notes: plan.apply((p) => p.notes) };
}
