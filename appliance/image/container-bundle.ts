// The container's way to take the appliance bundle as infra/ writes it (relaykit-bundle.json): with
// a read-only root there is no /etc to install into, so the bundle's files go to <state>/bundle on
// the data volume (0750 directory, 0600 files, the service user) and RELAYKIT_CONFIG points at its
// config.yaml. Relative paths in that config (the default var/spool, var/outbox) land on the volume
// through the `var` link, as they do on the VM. Touches only <state>/bundle; never logs file contents.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { installBundle, installedDigest, parseBundle } from './bundle-file.ts';

export interface ContainerBundleEnv {
  /** Path of relaykit-bundle.json (the image sets /etc/relaykit/relaykit-bundle.json). */
  readonly RELAYKIT_BUNDLE?: string;
  /** The data volume (the image sets /var/lib/relaykit). */
  readonly RELAYKIT_STATE_DIR?: string;
}

/**
 * Installs the bundle named by RELAYKIT_BUNDLE when that file exists (again only when its digest
 * changed) and returns the config path to use, or undefined when there is no bundle to use.
 * Throws BundleError for a bundle that is not valid.
 */
export function containerBundleConfig(env: ContainerBundleEnv): string | undefined {
  const file = env.RELAYKIT_BUNDLE;
  if (file === undefined || file === '' || !existsSync(file)) return undefined;
  const stateDir = env.RELAYKIT_STATE_DIR || '/var/lib/relaykit';
  const dir = join(stateDir, 'bundle');
  const bundle = parseBundle(readFileSync(file, 'utf8'));
  if (installedDigest(dir) !== bundle.digest) {
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    installBundle(bundle, { dir, stateDir, uid, gid, ownerUid: uid });
  }
  return join(dir, 'config.yaml');
}
