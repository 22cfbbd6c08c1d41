// Shared leaf: the relay's version. package.json is the one source; `--version`, /healthz and the
// relaykit_build_info metric read it from here. No relaykit imports. The SMTP banner never shows it
// (no free hint for scanners).
import pkg from '../../package.json' with { type: 'json' };

export const version: string = pkg.version;
