// Turns zod issues into one readable line each: `<dotted.path>: <expected>, <found>`.
// zod's own messages are never shown, except the ones the schema wrote on purpose
// (detected with a sentinel error map passed to safeParse, see DEFAULT_MESSAGE).
import type { z } from 'zod';
import { formatPath, type PathSegment } from '../util/zod-path.js';

export { formatPath, type PathSegment };

/** One thing wrong with a manifest, before the file name is put in front. */
export interface Problem {
  path: PathSegment[];
  message: string;
  /** Where in the file, when known (1-based line and column). */
  at?: { line: number; column: number };
}

/** Message the parse-level error map gives every issue the schema left without a message of its own. */
export const DEFAULT_MESSAGE = '\u0000fleetd-default';

/** Error map for `safeParse(input, { error: markDefaultMessages })`: schema messages win over it. */
export function markDefaultMessages(): string {
  return DEFAULT_MESSAGE;
}

type Issue = z.core.$ZodIssue;
type AnySchema = z.core.$ZodType;

/** Puts the file (and line:column, when known) in front of a problem: the line format of every MANIFEST_INVALID message. */
export function formatProblem(file: string, problem: Problem): string {
  const where = problem.at ? `${file}:${problem.at.line}:${problem.at.column}` : file;
  return `${where}: ${formatPath(problem.path)}: ${problem.message}`;
}

/** Describes a value found in the manifest, short enough for one line. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (the key is missing)';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : `an array of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The closest known key within edit distance 2 (case-insensitive), if any. */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

/** Reads the value at `path` in the raw (JSON5-parsed) input; undefined when absent. */
export function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

// Unwraps default/optional/nullable wrappers to the schema that has the shape.
function unwrap(schema: AnySchema): AnySchema {
  let cur = schema;
  for (;;) {
    const def = cur._zod.def as { type: string; innerType?: AnySchema };
    if ((def.type === 'default' || def.type === 'optional' || def.type === 'nullable' || def.type === 'prefault') && def.innerType) {
      cur = def.innerType;
    } else {
      return cur;
    }
  }
}

/** Keys a strict object accepts at `path` in `schema` (records and arrays are walked through). */
export function knownKeysAt(schema: AnySchema, path: readonly PathSegment[]): string[] {
  let cur: AnySchema | undefined = unwrap(schema);
  for (const seg of path) {
    if (cur === undefined) return [];
    const def = cur._zod.def as { type: string; shape?: Record<string, AnySchema>; valueType?: AnySchema; element?: AnySchema };
    if (def.type === 'object') cur = def.shape?.[String(seg)];
    else if (def.type === 'record') cur = def.valueType;
    else if (def.type === 'array') cur = def.element;
    else return [];
    if (cur !== undefined) cur = unwrap(cur);
  }
  const def = cur?._zod.def as { type: string; shape?: Record<string, AnySchema> } | undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  record: 'an object',
  array: 'an array',
};

// "must be at least 1" / "must not be empty" / "must list at least one item".
function boundWords(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>): string {
  const small = issue.code === 'too_small';
  const limit = Number(small ? issue.minimum : issue.maximum);
  const inclusive = issue.inclusive !== false;
  if (issue.origin === 'string') {
    if (small && limit === 1) return 'must not be empty';
    return `must be ${small ? 'at least' : 'at most'} ${limit} characters`;
  }
  if (issue.origin === 'array' || issue.origin === 'set') {
    if (small && limit === 1) return 'must list at least one item';
    return `must list ${small ? 'at least' : 'at most'} ${limit} items`;
  }
  if (small) return inclusive ? `must be at least ${limit}` : `must be more than ${limit}`;
  return inclusive ? `must be at most ${limit}` : `must be less than ${limit}`;
}

/** Renders one zod issue (path relative to the manifest root) as problems; `raw` is the JSON5-parsed input. */
export function renderIssue(issue: Issue, raw: unknown, schema: AnySchema): Problem[] {
  const path = issue.path.map((seg) => (typeof seg === 'symbol' ? String(seg) : seg)) as PathSegment[];
  const found = describeValue(valueAt(raw, path));
  const custom = issue.message !== DEFAULT_MESSAGE ? issue.message : undefined;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(schema, path);
      // "__proto__" is reported by rules.ts wherever it appears; don't say it twice.
      return issue.keys.filter((key) => key !== '__proto__').map((key) => {
        const suggestion = suggestKey(key, known);
        const hint = suggestion !== undefined ? `did you mean "${suggestion}"?` : `expected one of: ${known.join(', ')}`;
        return { path: [...path, key], message: `unknown key "${key}", ${hint}` };
      });
    }
    case 'invalid_key': {
      // A record key failed its check (env names): show the key, not the value.
      const key = path[path.length - 1];
      const inner = issue.issues.find((i) => i.message !== DEFAULT_MESSAGE)?.message;
      return [{ path, message: `${inner ?? 'invalid name'}, found ${JSON.stringify(String(key))}` }];
    }
    case 'invalid_type': {
      const words = path.length === 0 ? 'an object such as { version: 1, fleets: { ... } }' : TYPE_WORDS[issue.expected] ?? issue.expected;
      const expected = custom ?? `expected ${words}`;
      return [{ path, message: `${expected}, found ${found}` }];
    }
    case 'too_small':
    case 'too_big':
      return [{ path, message: `${custom ?? boundWords(issue)}, found ${found}` }];
    case 'invalid_value': {
      const expected = custom ?? `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
      return [{ path, message: `${expected}, found ${found}` }];
    }
    case 'invalid_format': {
      const expected = custom ?? (issue.pattern !== undefined ? `must match ${issue.pattern}` : `must be a valid ${issue.format}`);
      return [{ path, message: `${expected}, found ${found}` }];
    }
    case 'not_multiple_of':
      return [{ path, message: `${custom ?? `must be a multiple of ${issue.divisor}`}, found ${found}` }];
    default:
      return [{ path, message: `${custom ?? 'invalid value'}, found ${found}` }];
  }
}

/** Renders every issue of a failed safeParse, in zod's order. */
export function renderIssues(issues: readonly Issue[], raw: unknown, schema: AnySchema): Problem[] {
  return issues.flatMap((issue) => renderIssue(issue, raw, schema));
}
