// Wire shapes of `fleetctl doctor`: a list of checks, each with its level and the next step.
// Spread into `routes` (schemas.ts).
import { z } from 'zod';

/** How a check came out: ok, worth knowing (info), needs attention (warn), broken (fail). */
export const CHECK_LEVELS = ['ok', 'info', 'warn', 'fail'] as const;

/** One check of `fleetctl doctor`. */
export const doctorCheckSchema = z.object({
  /** Stable id of the kind of check: manifest, runtime, versions, disk, isolation, orphans, lock-files, files, port, state, openclaw-doctor ... */
  id: z.string(),
  /** `fleetd` for checks of the whole installation, else the agent's address. */
  scope: z.string(),
  level: z.enum(CHECK_LEVELS),
  /** What was checked, short ("port 20000", "runtime openclaw@2026.9.6"). */
  title: z.string(),
  /** What was found, with the offending value. */
  detail: z.string(),
  /** The next step when something needs attention (a command to run); null when none. */
  next: z.string().nullable(),
});
/** One check. */
export type DoctorCheck = z.infer<typeof doctorCheckSchema>;
/** A check's level. */
export type CheckLevel = (typeof CHECK_LEVELS)[number];

/** The answer of both doctor routes. */
export const doctorReportSchema = z.object({
  /** The agent checked, or null for the whole installation. */
  address: z.string().nullable(),
  fleetd: z.object({ version: z.string(), node: z.string(), pid: z.number() }),
  checks: z.array(doctorCheckSchema),
  /** True when a check is `warn` or `fail` (fleetctl doctor exits 1). */
  attention: z.boolean(),
  durationMs: z.number(),
});
/** The doctor report. */
export type DoctorReport = z.infer<typeof doctorReportSchema>;

/** Every route of this file. */
export const doctorRoutes = {
  doctor: {
    method: 'GET',
    path: '/v1/doctor',
    body: z.undefined(),
    response: doctorReportSchema,
  },
  agentDoctor: {
    method: 'GET',
    path: '/v1/agents/:fleet/:agent/doctor',
    body: z.undefined(),
    // ?openclaw=0 skips `openclaw doctor` (run as the agent, a few seconds of CPU)
    response: doctorReportSchema,
  },
} as const;
