// The compose example cannot be run here (no Docker daemon in CI); this checks it says what the README
// promises: a named volume for the spool, a read-only root, the bundle mounted where the image looks
// for it, and a stop grace period longer than the default drain.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseDuration } from '../../appliance/src/config/units.ts';

const ROOT = join(import.meta.dirname, '../..');
const compose = parse(readFileSync(join(ROOT, 'deploy/compose/compose.yaml'), 'utf8'));
const service = compose.services.relaykit;
const containerfile = readFileSync(join(ROOT, 'appliance/image/Containerfile'), 'utf8');

describe('deploy/compose/compose.yaml', () => {
  it('keeps the spool on a named volume declared at the top level', () => {
    const spool = (service.volumes as string[]).find((v) => v.endsWith(':/var/lib/relaykit'));
    expect(spool).toBe('relaykit-spool:/var/lib/relaykit');
    expect(Object.keys(compose.volumes)).toEqual(['relaykit-spool']);
    expect(containerfile).toContain('VOLUME ["/var/lib/relaykit"]');
  });

  it('runs read-only, without capabilities, as the image user, with the bundle where the image reads it', () => {
    expect(service.read_only).toBe(true);
    expect(service.cap_drop).toEqual(['ALL']);
    expect(service.user).toBe('10025:10025');
    expect(containerfile).toContain('USER 10025:10025');
    expect(service.volumes).toContain('./relaykit-bundle.json:/etc/relaykit/relaykit-bundle.json:ro');
    expect(containerfile).toContain('RELAYKIT_BUNDLE=/etc/relaykit/relaykit-bundle.json');
  });

  it('names the version of this checkout and waits longer than the default drain (30 s) on stop', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(service.image).toBe(`relaykit-appliance:${pkg.version}`);
    expect(parseDuration(service.stop_grace_period)).toBeGreaterThan(30_000);
  });
});
