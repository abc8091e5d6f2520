// Reading Prometheus text exposition in tests with parse-prometheus-text-format (a port
// of the Prometheus Python client's parser): family -> samples, with a small lookup.
import { createRequire } from 'node:module';

/** One metric family as the parser returns it. */
export interface PromFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }>;
}

const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => PromFamily[];

/** Parses exposition text into families keyed by name (throws on malformed text). */
export function parsePrometheus(text: string): Map<string, PromFamily> {
  return new Map(parse(text).map((f) => [f.name, f]));
}

/** The value of one sample of `family` whose labels include `labels`; undefined when absent. */
export function sampleValue(families: Map<string, PromFamily>, family: string, labels: Record<string, string> = {}): number | undefined {
  const f = families.get(family);
  const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m?.value === undefined ? undefined : Number(m.value);
}
