// Where fleetd keeps its upgrade state (protocol/rollout.ts upgradeStateSchema: pins of
// `fleetctl upgrade`, the active or last rollout, a short history) across its own
// restarts: `<stateDir>/upgrades.json`, 0600, written atomically. A damaged file is an
// error naming it and is never overwritten (as with the registry). The lead may move this
// into the registry; the shape stays the same.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { upgradeStateSchema, type RolloutRecord, type UpgradeState } from '../protocol/rollout.js';
import { writeFileAtomic } from '../util/atomic-write.js';

/** Finished rollouts kept in the history. */
export const HISTORY_KEPT = 10;

/** An empty state. */
export function emptyUpgradeState(): UpgradeState {
  return { schema: 1, overrides: [], held: [], rollout: null, history: [] };
}

/** Reads and writes one upgrades file; writes are serialized. */
export interface UpgradeStore {
  readonly path: string;
  load(): Promise<UpgradeState>;
  save(state: UpgradeState): Promise<void>;
}

/** The store at `<stateDir>/upgrades.json`. */
export function createUpgradeStore(stateDir: string): UpgradeStore {
  const path = join(stateDir, 'upgrades.json');
  let chain: Promise<void> = Promise.resolve();
  return {
    path,
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyUpgradeState();
        throw err;
      }
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch (err) {
        throw new FleetError('REGISTRY_INVALID', `${path} is not JSON (${(err as Error).message}); fix or move it away, then start fleetd again`, { cause: err });
      }
      const parsed = upgradeStateSchema.safeParse(data);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new FleetError('REGISTRY_INVALID', `${path}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'does not match its schema'}; fix or move it away, then start fleetd again`);
      }
      return parsed.data;
    },
    save(state) {
      const text = `${JSON.stringify(upgradeStateSchema.parse(state), null, 2)}\n`;
      const write = chain.then(() => writeFileAtomic(path, text, { mode: 0o600 }));
      chain = write.catch(() => undefined);
      return write;
    },
  };
}

/** Moves a finished rollout into the history (newest first, bounded). */
export function archiveRollout(state: UpgradeState, finished: RolloutRecord): UpgradeState {
  return { ...state, history: [finished, ...state.history.filter((r) => r.id !== finished.id)].slice(0, HISTORY_KEPT) };
}
