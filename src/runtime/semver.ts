// Semver for `engines.node` ranges and Node binary versions, on npm's own `semver`
// package (the implementation npm uses to read the same ranges), plus one deliberate rule
// of fleetd's: a prerelease version (24.16.0-rc.1) never satisfies a range, whatever the
// range says. fleetd only uses ranges to choose which RELEASED Node runs a gateway.
import semver from 'semver';
import { FleetError } from '../errors.js';

/** A parsed exact version (semver's class: major, minor, patch, prerelease ...). */
export type SemVer = semver.SemVer;

/** Parses an exact version (`24.21.0`, `v26.1.0`, `24.16.0-rc.1`); undefined when it is not one. */
export function parseVersion(text: string): SemVer | undefined {
  return semver.parse(text.trim()) ?? undefined;
}

/** Orders two versions the semver way: -1, 0 or 1. */
export function compareVersions(a: SemVer | string, b: SemVer | string): -1 | 0 | 1 {
  return semver.compare(a, b);
}

/** True for a release (no prerelease part). */
export function isRelease(version: SemVer): boolean {
  return version.prerelease.length === 0;
}

/** Checks a range's syntax; RUNTIME_FAILED naming it when semver cannot read it. */
export function assertRange(range: string): semver.Range {
  try {
    return new semver.Range(range);
  } catch (err) {
    throw new FleetError('RUNTIME_FAILED', `invalid semver range "${range}": ${(err as Error).message}`, { cause: err });
  }
}

/** True when `version` is a release inside `range` (prereleases never match); RUNTIME_FAILED on a bad range. */
export function satisfies(version: string | SemVer, range: string | semver.Range): boolean {
  const parsed = typeof version === 'string' ? parseVersion(version) : version;
  const r = typeof range === 'string' ? assertRange(range) : range;
  if (!parsed || !isRelease(parsed)) return false;
  return r.test(parsed);
}

/** The highest of `versions` that satisfies `range` (releases only), or undefined. Unparseable entries are skipped. */
export function maxSatisfying(versions: readonly string[], range: string): string | undefined {
  const r = assertRange(range);
  let best: { text: string; v: SemVer } | undefined;
  for (const text of versions) {
    const v = parseVersion(text);
    if (!v || !satisfies(v, r)) continue;
    if (!best || compareVersions(v, best.v) > 0) best = { text, v };
  }
  return best?.text;
}
