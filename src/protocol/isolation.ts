// Wire shapes of the isolation facts fleetd reports (isolation/isolation-status.ts builds
// them): optional members of the status views (agentViewSchema, daemonViewSchema), so older
// clients keep working.
import { z } from 'zod';

/** How fleetd isolates its agents on this host. */
export const isolationHostViewSchema = z.object({
  /** `cgroup-v2`, `cgroup-v1`, or `none` (the /proc tree-walk fallback). */
  mode: z.enum(['cgroup-v2', 'cgroup-v1', 'none']),
  /** The mode in words, with the reason for a fallback. */
  description: z.string(),
  /** Same-page merging in words (only when an agent asks for it, else null). */
  ksm: z.string().nullable(),
});

/** One agent's isolation: its cgroup, user, limits and usage. */
export const agentIsolationViewSchema = z.object({
  /** Folder of its cgroup (the first one on v1); null without cgroups. */
  cgroup: z.string().nullable(),
  /** OS user of its gateway; null = fleetd's own. */
  user: z.string().nullable(),
  limits: z.object({ memory: z.string().nullable(), cpu: z.number().nullable(), pids: z.number().nullable() }),
  memory: z.object({
    /** From the cgroup when there is one, else the RSS of the process tree. */
    currentBytes: z.number().nullable(),
    limitBytes: z.number().nullable(),
    peakBytes: z.number().nullable(),
    source: z.enum(['cgroup', 'tree-rss', 'none']),
    /** "412M / 1.5G (27 %)", "412M, no limit", "unknown", "not running" (no gateway process: currentBytes null, whatever the cgroup still charges). */
    text: z.string(),
  }),
  cpuSeconds: z.number().nullable(),
  pids: z.object({ current: z.number().nullable(), limit: z.number().nullable() }),
  /** Processes of the agent the kernel OOM killer killed since the cgroup was made. */
  oomKills: z.number().nullable(),
  /** "off", or the KSM state in words when the agent opted in. */
  merge: z.string(),
});

/** A member of isolationHostViewSchema. */
export type IsolationHostView = z.infer<typeof isolationHostViewSchema>;
/** A member of agentIsolationViewSchema. */
export type AgentIsolationView = z.infer<typeof agentIsolationViewSchema>;
