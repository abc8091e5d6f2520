// One change to the in-memory registry, in time proportional to the entries it touches.
// The store used to deep-copy the whole registry and validate every entry with zod on
// every change: ~0.7 ms per change at 200 agents, and a start of all agents makes three
// changes per agent (the operator's wish, the applied hash, the process record).
//
// Now the mutation edits a draft whose `agents` is a shallow copy behind a Proxy: the first
// read of an entry hands out a deep copy of it (so the memory copy is never edited in
// place), and every entry read, written or deleted is noted. Only those entries are
// validated, plus the O(agents) rules between entries (registryRuleIssues). A mutation
// that replaces `agents` or other top-level keys gets the full schema. A change that fails
// validation throws INTERNAL and changes nothing, as before.
import { FleetError } from '../errors.js';
import { registryEntrySchema, registryRuleIssues, registryV1Schema, type RegistryEntry, type RegistryFile } from '../plan/registry-schema.js';
import { formatPath, renderZodIssues } from '../util/zod-path.js';

/** A mutation of the registry (edits `draft` in place; synchronous). */
export type RegistryMutation = (draft: RegistryFile) => void;

/**
 * `mem` with `mutate` applied, validated; `mem` itself is left as it was. INTERNAL when the
 * result is invalid. `onTouched`, when given, hears the addresses of the entries the mutation
 * read, wrote or deleted (a superset of those it changed), or null when it replaced more
 * than entries (any entry may differ).
 */
export function applyRegistryMutation(mem: Readonly<RegistryFile>, mutate: RegistryMutation, onTouched?: (keys: ReadonlySet<string> | null) => void): RegistryFile {
  const agents: Record<string, RegistryEntry> = { ...mem.agents };
  const touched = new Set<string>();
  const proxy = new Proxy(agents, {
    get(target, key, receiver) {
      if (typeof key === 'string' && !touched.has(key) && Object.hasOwn(target, key)) {
        touched.add(key);
        target[key] = structuredClone(target[key]!);
      }
      return Reflect.get(target, key, receiver);
    },
    set(target, key, value) {
      if (typeof key === 'string') touched.add(key);
      return Reflect.set(target, key, value);
    },
    defineProperty(target, key, descriptor) {
      if (typeof key === 'string') touched.add(key);
      return Reflect.defineProperty(target, key, descriptor);
    },
    deleteProperty(target, key) {
      if (typeof key === 'string') touched.add(key);
      return Reflect.deleteProperty(target, key);
    },
  });
  const draft = { ...mem, agents: proxy } as RegistryFile;
  mutate(draft);
  const keys = Object.keys(draft);
  if (draft.agents !== proxy || draft.version !== 1 || keys.length !== 2) {
    const whole = validateWhole({ ...draft, agents: draft.agents === proxy ? agents : draft.agents });
    onTouched?.(null);
    return whole;
  }
  const problems: string[] = [];
  for (const key of touched) {
    if (!Object.hasOwn(agents, key)) continue;
    const checked = registryEntrySchema.safeParse(agents[key]);
    if (checked.success) agents[key] = checked.data;
    else problems.push(renderZodIssues(checked.error, formatPath(['agents', key])));
  }
  if (problems.length === 0) problems.push(...registryRuleIssues(ruleScope(mem.agents, agents, touched)).map((issue) => `${formatPath(issue.path)}: ${issue.message}`));
  if (problems.length > 0) throw refused(problems.join('; '));
  onTouched?.(touched);
  return { version: 1, agents };
}

// The memory copy passed these rules when it was made. A key or hooks token can only break
// them in a touched entry, and the one-block-per-agent rule only through an entry that is
// new or moved to another block: then the whole set is checked, else the touched entries
// alone. (Checking every entry on every change made a start of all agents O(N^2): 800
// changes x 200 entries at N = 200, ~26 ms of fleetd's main thread in a start all again.)
/** The entries the cross-entry rules must look at after a change of `touched` (see above). */
function ruleScope(before: Readonly<Record<string, RegistryEntry>>, after: Record<string, RegistryEntry>, touched: ReadonlySet<string>): Record<string, RegistryEntry> {
  const scope: Record<string, RegistryEntry> = {};
  for (const key of touched) {
    if (!Object.hasOwn(after, key)) continue; // deleted: frees a block, breaks nothing
    if (!Object.hasOwn(before, key) || before[key]!.block !== after[key]!.block) return after;
    scope[key] = after[key]!;
  }
  return scope;
}

/** The full schema, for mutations that replace more than entries. */
function validateWhole(candidate: unknown): RegistryFile {
  const checked = registryV1Schema.safeParse(candidate);
  if (!checked.success) throw refused(renderZodIssues(checked.error), checked.error);
  return checked.data;
}

/** The error of a refused change. */
function refused(problems: string, cause?: unknown): FleetError {
  return new FleetError('INTERNAL', `refusing an invalid registry change: ${problems}`, cause === undefined ? {} : { cause });
}
