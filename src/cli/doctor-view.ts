// How `fleetctl doctor` shows a report to people, and the one check fleetctl adds itself
// (its own version against fleetd's). Pure.
import type { DoctorCheck, DoctorReport } from '../protocol/doctor-schemas.js';

/** fleetctl's own check: talking to a fleetd of another version works, but says so. */
export function clientVersionCheck(fleetdVersion: string, own: string): DoctorCheck {
  const same = fleetdVersion === own;
  return {
    id: 'versions',
    scope: 'fleetd',
    level: same ? 'ok' : 'warn',
    title: 'fleetctl',
    detail: same ? `fleetctl ${own} matches fleetd` : `fleetctl ${own} talks to fleetd ${fleetdVersion}`,
    next: same ? null : 'use the fleetctl installed with this fleetd (or restart fleetd after an upgrade)',
  };
}

/** The report for people: checks grouped by scope, problems with their next step, a summary line. */
export function renderDoctor(report: DoctorReport, verbose: boolean): string[] {
  const lines: string[] = [];
  const scopes = [...new Set(report.checks.map((c) => c.scope))];
  for (const scope of scopes) {
    const shown = report.checks.filter((c) => c.scope === scope && (verbose || c.level !== 'ok'));
    const all = report.checks.filter((c) => c.scope === scope);
    if (shown.length === 0) {
      lines.push(`${scope}: ok (${all.length} checks)`);
      continue;
    }
    lines.push(`${scope}:`);
    for (const c of shown) {
      lines.push(`  ${c.level.padEnd(4)}  ${c.title}: ${c.detail}`);
      if (c.next) lines.push(`        -> ${c.next}`);
    }
  }
  const count = (level: string) => report.checks.filter((c) => c.level === level).length;
  lines.push('', `${report.checks.length} checks: ${count('ok')} ok, ${count('info')} info, ${count('warn')} warn, ${count('fail')} fail${report.attention ? ' - needs attention' : ''}`);
  return lines;
}

