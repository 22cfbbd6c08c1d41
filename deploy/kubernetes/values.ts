// deploy/kubernetes: the few places where the renderer's output depends on an option in more than a
// plain substitution (a sum, a key present only when an option is set, an if/else, a list mapped to
// items). Called with concrete options they compute the value; called with the Helm chart's symbolic
// options (helm-chart.ts: every option is a `⟪…⟫` expression) they leave a marker the chart emitter
// turns into `{{ if }}` / `{{ range }}` / `{{ add }}`. So the chart comes from the same renderer as
// relaykit.yaml and the Pulumi component, never from a hand-kept copy.

/** Opens and closes a Helm expression inside a symbolic value ("⟪.Values.replicas⟫"). */
export const OPEN = '⟪';
export const CLOSE = '⟫';
/** Object-key prefixes the chart emitter reads (then strips). */
export const IF = `${OPEN}if `;
export const IF_NOT = `${OPEN}ifnot `;
export const RANGE = `${OPEN}range `;
/** A key whose presence wraps the whole document in `{{ if }}`. */
export const DOC_IF = `${OPEN}docif `;

/** True for a value that stands for a Helm expression rather than a concrete value. */
export function isSymbolic(v: unknown): v is string {
  return typeof v === 'string' && v.startsWith(OPEN) && v.endsWith(CLOSE);
}

/** The Helm expression inside a symbolic value ("⟪.Values.x⟫" → ".Values.x"). */
export function exprOf(v: string): string {
  return v.slice(OPEN.length, -CLOSE.length);
}

/** a + b, or `{{ add a b }}` when a is symbolic. */
export function plus(a: number, b: number): number {
  if (isSymbolic(a)) return `${OPEN}add ${exprOf(a)} ${b}${CLOSE}` as unknown as number;
  return a + b;
}

/** `{ [key]: make() }` when cond holds, `{}` when not; symbolic: the key under `{{ if cond }}`. */
export function when<T>(cond: unknown, key: string, make: () => T): Record<string, T> {
  if (isSymbolic(cond)) return { [`${IF}${exprOf(cond)}${CLOSE}${key}`]: make() };
  return cond ? { [key]: make() } : {};
}

/** when(cond, …) for the first pair, otherwise the second; symbolic: `{{ if }}` and `{{ if not }}`. */
export function choose<A, B>(
  cond: unknown,
  yes: readonly [string, () => A],
  no: readonly [string, () => B],
): Record<string, A | B> {
  if (isSymbolic(cond)) {
    const e = exprOf(cond);
    return { [`${IF}${e}${CLOSE}${yes[0]}`]: yes[1](), [`${IF_NOT}${e}${CLOSE}${no[0]}`]: no[1]() };
  }
  return cond ? { [yes[0]]: yes[1]() } : { [no[0]]: no[1]() };
}

/** True when the list has items; symbolic lists pass their expression on (Helm: empty is false). */
export function nonEmpty(list: readonly unknown[]): unknown {
  return isSymbolic(list) ? list : list.length > 0;
}

/** list.map(fn); symbolic: one item made from `{{ . }}`, repeated by `{{ range list }}`. */
export function each<T extends object>(list: readonly string[], fn: (item: string) => T): T[] {
  if (isSymbolic(list)) {
    return [{ [`${RANGE}${exprOf(list)}${CLOSE}`]: null, ...fn(`${OPEN}.${CLOSE}`) } as T];
  }
  return list.map(fn);
}

/** [make()] when cond holds; symbolic: the document carries a DOC_IF marker key. */
export function document<T extends object>(cond: unknown, make: () => T): T[] {
  if (isSymbolic(cond)) return [{ [`${DOC_IF}${exprOf(cond)}${CLOSE}`]: null, ...make() } as T];
  return cond ? [make()] : [];
}
