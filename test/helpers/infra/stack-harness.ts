// Test helper: runs the tenant program (deployTenant, what index.ts runs) under Pulumi mocks with the
// example stack's config plus overrides, and returns the mock cloud's recordings and resolved outputs.
// Mock state is process-global: call it from beforeAll, once per test file (vitest forks per file).
import { readFileSync } from 'node:fs';
import * as pulumi from '@pulumi/pulumi';
import type { TenantOutputs } from '../../../infra/customer-tenant.ts';
import {
  installMockCloud,
  MockCloud,
  outputValue,
  type RecordedResource,
  settle,
} from '../../../infra/mock-cloud.ts';
import { stackFileConfig } from '../../../infra/plan.ts';

export const EXAMPLE_FILE = new URL('../../../Pulumi.example.yaml', import.meta.url);

export function exampleConfig(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const flat = stackFileConfig(readFileSync(EXAMPLE_FILE, 'utf8'), 'Pulumi.example.yaml');
  for (const [k, v] of Object.entries(overrides)) {
    const key = `relaykit:${k}`;
    if (v === undefined) delete flat[key];
    else flat[key] = v;
  }
  return flat;
}

export type Resolved<T> = { [K in keyof T]: T[K] extends pulumi.Output<infer U> ? U : never };

export interface StackRun {
  cloud: MockCloud;
  outputs: TenantOutputs;
  values: Resolved<TenantOutputs>;
  byType(type: string): RecordedResource[];
  one(type: string, name?: string): RecordedResource;
}

export async function runExampleStack(
  overrides: Record<string, string | undefined> = {},
  opts: { domainVerified?: boolean; now?: Date; stack?: string } = {},
): Promise<StackRun> {
  const flat = exampleConfig(overrides);
  const cloud = new MockCloud({
    subscriptionId: flat['relaykit:subscriptionId'] ?? '',
    tenantId: flat['relaykit:tenantId'] ?? '',
    ...(opts.domainVerified === undefined ? {} : { domainVerified: opts.domainVerified }),
  });
  await installMockCloud(cloud, 'relaykit', opts.stack ?? 'example');
  pulumi.runtime.setAllConfig(flat, ['relaykit:hvePassword']);
  const { loadTenantConfig } = await import('../../../infra/config.ts');
  const { deployTenant } = await import('../../../infra/customer-tenant.ts');
  const { config, hvePassword } = loadTenantConfig();
  const outputs = deployTenant({
    config,
    ...(hvePassword === undefined ? {} : { hvePassword }),
    now: opts.now ?? new Date('2026-11-22T00:00:00Z'),
  });
  const entries = await Promise.all(
    Object.entries(outputs).map(
      async ([k, o]) => [k, await outputValue(o as pulumi.Output<unknown>)] as const,
    ),
  );
  await settle(pulumi.runtime);
  const values = Object.fromEntries(entries) as unknown as Resolved<TenantOutputs>;
  const byType = (type: string) => cloud.resources.filter((r) => r.type === type);
  return {
    cloud,
    outputs,
    values,
    byType,
    one(type, name) {
      const found = byType(type).filter((r) => name === undefined || r.name === name);
      if (found.length !== 1) throw new Error(`expected one ${type} ${name ?? ''}, found ${found.length}`);
      return found[0] as RecordedResource;
    },
  };
}
