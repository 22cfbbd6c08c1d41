// Reads a /metrics answer with an independent parser (parse-prometheus-text-format, not the code under
// test): families by name with their type, help and samples, so tests assert on parsed names, labels
// and values instead of on the exposition's exact spelling.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedFamily {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: readonly Sample[];
}

export function parseExposition(text: string): Map<string, ParsedFamily> {
  const out = new Map<string, ParsedFamily>();
  for (const f of parsePrometheusTextFormat(text)) {
    out.set(f.name, {
      name: f.name,
      type: f.type.toLowerCase(),
      help: f.help,
      samples: f.metrics.map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) })),
    });
  }
  return out;
}

/** The value of the sample with exactly these labels, or undefined when the family has none such. */
export function sampleValue(
  families: Map<string, ParsedFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const want = Object.entries(labels);
  return families
    .get(name)
    ?.samples.find(
      (s) => Object.keys(s.labels).length === want.length && want.every(([k, v]) => s.labels[k] === v),
    )?.value;
}
