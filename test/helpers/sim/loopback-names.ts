// A hosts-file entry for the test process: the given names resolve to 127.0.0.1, everything else as
// usual. Key Vault's challenge check compares the vault's host name with the resource its challenge
// names (…vault.azure.net), so a simulator reached as 127.0.0.1 could only be tested with the check
// off; under a vault.azure.net name on loopback the production check stays on, and nothing can reach
// the real cloud. Node's net.connect (and so https and undici) resolves through dns.lookup.
import dns from 'node:dns';

const names = new Set<string>();
let installed = false;

type LookupCallback = (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => void;

export function resolveToLoopback(name: string): void {
  names.add(name.toLowerCase());
  if (installed) return;
  installed = true;
  const original = dns.lookup;
  const patched = (hostname: string, options: unknown, callback?: LookupCallback) => {
    const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
    const opts = (typeof options === 'object' && options !== null ? options : {}) as { all?: boolean };
    if (!names.has(hostname.toLowerCase())) {
      return (original as (...a: unknown[]) => void).call(dns, hostname, options, callback);
    }
    process.nextTick(() =>
      opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4),
    );
  };
  dns.lookup = patched as typeof dns.lookup;
}
