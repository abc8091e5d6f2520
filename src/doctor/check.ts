// Building doctor checks: one constructor per level, and the rule that decides the exit code.
import type { CheckLevel, DoctorCheck } from '../protocol/doctor-schemas.js';

/** Scope of checks about the whole installation. */
export const FLEETD_SCOPE = 'fleetd';

/** A check; `next` is the step to take (null when there is none). */
export function check(level: CheckLevel, id: string, scope: string, title: string, detail: string, next: string | null = null): DoctorCheck {
  return { id, scope, level, title, detail, next };
}

/** True when a check needs the operator (warn or fail): fleetctl doctor exits 1. */
export function needsAttention(checks: readonly DoctorCheck[]): boolean {
  return checks.some((c) => c.level === 'warn' || c.level === 'fail');
}

/** A shell-safe rendering of a path for a command in `next` (single quotes only when needed). */
export function shellQuote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}
