// fleet/ room: asks a site appliance's read-only status endpoint (GET /status with the monitoring
// bearer token, appliance/src/ops/http.ts) for its health snapshot. Unreachable is a state, not a
// failure of the command.
import type { SiteHealth } from './status-model.ts';

export const PROBE_TIMEOUT_MS = 5000;

export async function probeSite(
  site: string,
  url: string | undefined,
  token: string | undefined,
  fetchFn: typeof fetch,
): Promise<SiteHealth> {
  if (url === undefined) return { site, health: 'no-url', problems: [], certificates: [] };
  try {
    const res = await fetchFn(url, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      return {
        site,
        health: `http-${res.status}`,
        problems: [`status endpoint answered ${res.status}`],
        certificates: [],
      };
    }
    const body = (await res.json()) as {
      overall?: string;
      problems?: string[];
      expiry?: { expiresAt?: string }[];
    };
    return {
      site,
      health: body.overall ?? 'unknown',
      problems: body.problems ?? [],
      certificates: (body.expiry ?? []).map((e) => e.expiresAt ?? '').filter((e) => e !== ''),
    };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return {
      site,
      health: 'unreachable',
      problems: [`status endpoint did not answer (${cause})`],
      certificates: [],
    };
  }
}
