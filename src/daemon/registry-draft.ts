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
//
// That shallow copy was itself O(agents) per change: 200 keys copied (and a 200-key object
// left for the GC) for each of the ~800 changes of a first start at N = 200, ~100 ms of
// fleetd's main thread (CPU profile, issue 14). The store now lets a change edit its memory
// copy in place when it handed that copy to no one since the last change (`inPlace`), and
// undoes a refused change there.
import { FleetError } from '../errors.js';
import { registryEntrySchema, registryRuleIssues, registryV1Schema, type RegistryEntry, type RegistryFile } from '../plan/registry-schema.js';
import { formatPath, renderZodIssues } from '../util/zod-path.js';
import { sameData } from '../util/same-data.js';

/** A mutation of the registry (edits `draft` in place; synchronous). */
export type RegistryMutation = (draft: RegistryFile) => void;

/** An entry as it was before the change (undefined: there was none); asked only for touched keys. */
export type EntryBefore = (key: string) => Readonly<RegistryEntry> | undefined;

/**
 * `mem` with `mutate` applied, validated. INTERNAL when the result is invalid, and then
 * nothing changed. `onTouched`, when given, hears the addresses of the entries the mutation
 * read, wrote or deleted (a superset of those it changed), or null when it replaced more than
 * entries (any entry may differ), with each touched entry as it was before and the agents
 * after.
 *
 * By default `mem` is left as it was: the result has a copy of `agents` (untouched entries
 * shared). With `inPlace`, `mem.agents` itself is edited and returned (its owner handed it to
 * no one since its last change; see registry-store.ts): no copy of the 200 keys per change.
 * A refused change (or a mutation that throws) is undone there. Touched entries are copies in
 * both modes, so an entry object once handed out is never edited.
 */
export function applyRegistryMutation(
  mem: Readonly<RegistryFile>,
  mutate: RegistryMutation,
  onTouched?: (keys: ReadonlySet<string> | null, before: EntryBefore, after: Readonly<Record<string, RegistryEntry>>) => void,
  inPlace = false,
): RegistryFile {
  const agents: Record<string, RegistryEntry> = inPlace ? (mem.agents as Record<string, RegistryEntry>) : { ...mem.agents };
  const touched = new Set<string>();
  // in place: each touched key's entry before the change (undefined: none), to undo a refused change
  const originals = inPlace ? new Map<string, RegistryEntry | undefined>() : null;
  const touch = (target: Record<string, RegistryEntry>, key: string): void => {
    if (touched.has(key)) return;
    touched.add(key);
    originals?.set(key, Object.hasOwn(target, key) ? target[key] : undefined);
  };
  const before: EntryBefore = originals ? (key) => (originals.has(key) ? originals.get(key) : ownOf(agents, key)) : (key) => ownOf(mem.agents, key);
  const proxy = new Proxy(agents, {
    get(target, key, receiver) {
      if (typeof key === 'string' && !touched.has(key) && Object.hasOwn(target, key)) {
        touch(target, key);
        target[key] = structuredClone(target[key]!);
      }
      return Reflect.get(target, key, receiver);
    },
    set(target, key, value) {
      if (typeof key === 'string') touch(target, key);
      return Reflect.set(target, key, value);
    },
    defineProperty(target, key, descriptor) {
      if (typeof key === 'string') touch(target, key);
      return Reflect.defineProperty(target, key, descriptor);
    },
    deleteProperty(target, key) {
      if (typeof key === 'string') touch(target, key);
      return Reflect.deleteProperty(target, key);
    },
  });
  try {
    const draft = { ...mem, agents: proxy } as RegistryFile;
    mutate(draft);
    const keys = Object.keys(draft);
    if (draft.agents !== proxy || draft.version !== 1 || keys.length !== 2) {
      const whole = validateWhole({ ...draft, agents: draft.agents === proxy ? agents : draft.agents });
      onTouched?.(null, before, whole.agents);
      return whole;
    }
    const problems: string[] = [];
    for (const key of touched) {
      if (!Object.hasOwn(agents, key)) continue;
      if (changedMembersValid(agents[key], before(key))) continue;
      const checked = registryEntrySchema.safeParse(agents[key]);
      if (checked.success) agents[key] = checked.data;
      else problems.push(renderZodIssues(checked.error, formatPath(['agents', key])));
    }
    if (problems.length === 0) problems.push(...registryRuleIssues(ruleScope(before, agents, touched)).map((issue) => `${formatPath(issue.path)}: ${issue.message}`));
    if (problems.length > 0) throw refused(problems.join('; '));
    onTouched?.(touched, before, agents);
    return { version: 1, agents };
  } catch (err) {
    if (originals) {
      for (const [key, entry] of originals) {
        if (entry === undefined) delete agents[key];
        else agents[key] = entry;
      }
    }
    throw err;
  }
}

/** The own entry of `key` (undefined for none, and for inherited names such as `constructor`). */
function ownOf(agents: Readonly<Record<string, RegistryEntry>>, key: string): RegistryEntry | undefined {
  return Object.hasOwn(agents, key) ? agents[key] : undefined;
}

// The memory copy passed these rules when it was made. A key or hooks token can only break
// them in a touched entry, and the one-block-per-agent rule only through an entry that is
// new or moved to another block: then the whole set is checked, else the touched entries
// alone. (Checking every entry on every change made a start of all agents O(N^2): 800
// changes x 200 entries at N = 200, ~26 ms of fleetd's main thread in a start all again.)
/** The entries the cross-entry rules must look at after a change of `touched` (see above). */
function ruleScope(before: EntryBefore, after: Record<string, RegistryEntry>, touched: ReadonlySet<string>): Record<string, RegistryEntry> {
  const scope: Record<string, RegistryEntry> = {};
  for (const key of touched) {
    if (!Object.hasOwn(after, key)) continue; // deleted: frees a block, breaks nothing
    const was = before(key);
    if (was === undefined || was.block !== after[key]!.block) return after;
    scope[key] = after[key]!;
  }
  return scope;
}

/** The entry schema's members, each with its own schema. */
const shape = registryEntrySchema.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>;
/** The members an entry must have (their schema refuses undefined); made on first use. */
let required: readonly string[] | null = null;

// A change touches one or two members of an entry (a process record, a restart count, the
// applied hash) and leaves the rest as they were: parsing the whole entry with zod for each of
// a first start's ~800 changes was ~46 ms of fleetd's main thread at N = 200 (CPU profile,
// 2026-12-02). The entry as it was passed the schema when it was made, and the entry schema's
// members are checked independently (a strict object, no refinement across members, no
// transforms): so the members that differ from before are checked with their own schemas, and
// anything else (a new entry, an unknown or a missing required member, a member that fails)
// goes through the whole schema, whose words the refusal then uses.
/** Whether `entry` is valid knowing that `was` (the same entry before the change) was: its changed members pass their schemas, nothing unknown, nothing required missing. */
function changedMembersValid(entry: unknown, was: Readonly<RegistryEntry> | undefined): boolean {
  if (was === undefined || typeof entry !== 'object' || entry === null || Array.isArray(entry)) return false;
  const members = entry as Record<string, unknown>;
  for (const key in members) {
    if (!Object.hasOwn(members, key)) continue;
    if (!Object.hasOwn(shape, key)) return false;
    if (!sameData(members[key], (was as Record<string, unknown>)[key]) && !shape[key]!.safeParse(members[key]).success) return false;
  }
  for (const key of (required ??= Object.keys(shape).filter((k) => !shape[k]!.safeParse(undefined).success))) if (!Object.hasOwn(members, key)) return false;
  return true;
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
