// A small semver range evaluator, enough for `engines.node` ranges and for picking a Node
// binary package: comparators (>= > <= < =), ^, ~, x-ranges (1, 1.x, 1.2.*, *), hyphen
// ranges (1.2.3 - 2.3.4), space = AND, || = OR. Pure: no fs, no clock.
//
// One deliberate difference from npm's `semver`: a prerelease version (24.16.0-rc.1) never
// satisfies a range. fleetd only uses ranges to choose which released Node to run.
import { FleetError } from '../errors.js';

/** A parsed version: numeric core plus prerelease identifiers (empty for a release). */
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  prerelease: Array<string | number>;
}

/** One primitive comparison; a range is an OR of ANDs of these. */
export interface Comparator {
  op: '>=' | '>' | '<=' | '<' | '=';
  version: SemVer;
}

const VERSION_RE = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/;
const PARTIAL_RE = /^v?(\d+|[xX*])(?:\.(\d+|[xX*])(?:\.(\d+|[xX*])(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?)?)?$/;
const TOKEN_RE = /^(>=|<=|>|<|=|\^|~>?)?(.*)$/;

/** Parses an exact version (`24.21.0`, `v26.1.0`, `24.16.0-rc.1`); undefined when it is not one. */
export function parseVersion(text: string): SemVer | undefined {
  const m = VERSION_RE.exec(text.trim());
  if (!m) return undefined;
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    prerelease: m[4] ? m[4].split('.').map((id) => (/^\d+$/.test(id) ? Number(id) : id)) : [],
  };
}

/** Orders two versions the semver way: -1, 0 or 1. */
export function compareVersions(a: SemVer, b: SemVer): number {
  for (const key of ['major', 'minor', 'patch'] as const) {
    if (a[key] !== b[key]) return a[key] < b[key] ? -1 : 1;
  }
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    // a release sorts after any of its prereleases
    return a.prerelease.length === b.prerelease.length ? 0 : a.prerelease.length === 0 ? 1 : -1;
  }
  for (let i = 0; ; i++) {
    const x = a.prerelease[i];
    const y = b.prerelease[i];
    if (x === undefined && y === undefined) return 0;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
    if (typeof x === 'number') return -1; // numeric identifiers sort before alphanumeric ones
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
}

/** Parses a range into OR-sets of AND-ed comparators; throws RUNTIME_FAILED on bad syntax. */
export function parseRange(range: string): Comparator[][] {
  return range.split('||').map((set) => parseSet(set, range));
}

/** True when `version` is a release inside `range` (prereleases never match). */
export function satisfies(version: string | SemVer, range: string | Comparator[][]): boolean {
  const v = typeof version === 'string' ? parseVersion(version) : version;
  if (!v || v.prerelease.length > 0) return false;
  const sets = typeof range === 'string' ? parseRange(range) : range;
  return sets.some((set) => set.every((c) => test(v, c)));
}

/** The highest of `versions` that satisfies `range`, or undefined. Unparseable entries are skipped. */
export function maxSatisfying(versions: readonly string[], range: string): string | undefined {
  const sets = parseRange(range);
  let best: { text: string; v: SemVer } | undefined;
  for (const text of versions) {
    const v = parseVersion(text);
    if (!v || !satisfies(v, sets)) continue;
    if (!best || compareVersions(v, best.v) > 0) best = { text, v };
  }
  return best?.text;
}

/** Applies one comparator. */
function test(v: SemVer, c: Comparator): boolean {
  const cmp = compareVersions(v, c.version);
  switch (c.op) {
    case '>=': return cmp >= 0;
    case '>': return cmp > 0;
    case '<=': return cmp <= 0;
    case '<': return cmp < 0;
    case '=': return cmp === 0;
  }
}

/** Parses one space-separated AND set. An empty set matches everything. */
function parseSet(set: string, range: string): Comparator[] {
  // "1.2.3 - 2.3.4" first, then glue operators to their version (">= 1.2.3" -> ">=1.2.3")
  const hyphen = /^\s*(\S+)\s+-\s+(\S+)\s*$/.exec(set);
  if (hyphen) {
    return [...desugar('>=', hyphen[1] ?? '', range), ...desugar('<=', hyphen[2] ?? '', range)];
  }
  const tokens = set.trim().replace(/(>=|<=|>|<|=|\^|~>?)\s+/g, '$1').split(/\s+/).filter(Boolean);
  return tokens.flatMap((token) => {
    const m = TOKEN_RE.exec(token);
    const op = m?.[1] ?? '';
    return desugar(op === '~>' ? '~' : op, m?.[2] ?? '', range);
  });
}

interface Partial {
  major?: number;
  minor?: number;
  patch?: number;
  prerelease: Array<string | number>;
}

/** Turns one operator + partial version into primitive comparators. */
function desugar(op: string, text: string, range: string): Comparator[] {
  const p = parsePartial(text, range);
  const any: Comparator[] = [];
  const none: Comparator[] = [{ op: '<', version: ver(0, 0, 0, [0]) }];
  const { major, minor, patch } = p;
  const floor = ver(major ?? 0, minor ?? 0, patch ?? 0, p.prerelease);
  // the first version after the partial: 1 -> 2.0.0, 1.2 -> 1.3.0
  const next = (): SemVer => (minor === undefined ? ver((major ?? 0) + 1, 0, 0) : ver(major ?? 0, minor + 1, 0));
  const full = patch !== undefined;
  switch (op) {
    case '':
    case '=':
      if (major === undefined) return any;
      return full ? [{ op: '=', version: floor }] : [{ op: '>=', version: floor }, { op: '<', version: next() }];
    case '>':
      if (major === undefined) return none;
      return full ? [{ op: '>', version: floor }] : [{ op: '>=', version: next() }];
    case '>=':
      return major === undefined ? any : [{ op: '>=', version: floor }];
    case '<':
      return major === undefined ? none : [{ op: '<', version: floor }];
    case '<=':
      if (major === undefined) return any;
      return full ? [{ op: '<=', version: floor }] : [{ op: '<', version: next() }];
    case '~':
      if (major === undefined) return any;
      return [{ op: '>=', version: floor }, { op: '<', version: next() }];
    case '^': {
      if (major === undefined) return any;
      let upper: SemVer;
      if (major > 0 || minor === undefined) upper = ver(major + 1, 0, 0);
      else if (minor > 0 || patch === undefined) upper = ver(0, minor + 1, 0);
      else upper = ver(0, 0, patch + 1);
      return [{ op: '>=', version: floor }, { op: '<', version: upper }];
    }
    default:
      throw badRange(range, `${op}${text}`);
  }
}

/** Parses `1`, `1.2`, `1.x`, `*`, `1.2.3-rc.1` into its known parts. */
function parsePartial(text: string, range: string): Partial {
  const m = PARTIAL_RE.exec(text);
  if (!m) throw badRange(range, text);
  const num = (s: string | undefined): number | undefined => (s === undefined || /^[xX*]$/.test(s) ? undefined : Number(s));
  const major = num(m[1]);
  const minor = major === undefined ? undefined : num(m[2]);
  const patch = minor === undefined ? undefined : num(m[3]);
  const prerelease = patch !== undefined && m[4] ? m[4].split('.').map((id) => (/^\d+$/.test(id) ? Number(id) : id)) : [];
  return { major, minor, patch, prerelease };
}

/** Builds a SemVer. */
function ver(major: number, minor: number, patch: number, prerelease: Array<string | number> = []): SemVer {
  return { major, minor, patch, prerelease };
}

/** The error for a range that does not parse. */
function badRange(range: string, part: string): FleetError {
  return new FleetError('RUNTIME_FAILED', `invalid semver range "${range}": cannot read "${part}"`);
}
