// What a reload may not change (pure): the paths fleetd holds open (state dir and its lock,
// the socket, the runtimes folder), the metrics listener, and the port layout every agent's
// port follows. Such a
// change needs a restart of fleetd; a reload that carries one is refused whole.
import type { Manifest } from '../manifest/schema.js';

/** Keys whose change needs a fleetd restart. */
const RESTART_KEYS = ['stateDir', 'socket', 'socketGroup', 'runtimesDir'] as const;

/** Why `next` cannot be applied by a reload over `current`, or undefined when it can. */
export function unreloadableChange(current: Manifest, next: Manifest): string | undefined {
  for (const key of RESTART_KEYS) {
    if (next[key] !== current[key]) {
      return `${key} changed from ${JSON.stringify(current[key] ?? null)} to ${JSON.stringify(next[key] ?? null)}; this needs a restart of fleetd (systemctl restart fleetd), not a reload`;
    }
  }
  if (next.ports.base !== current.ports.base || next.ports.blockSize !== current.ports.blockSize) {
    return `ports.base/ports.blockSize changed (${current.ports.base}/${current.ports.blockSize} -> ${next.ports.base}/${next.ports.blockSize}): every agent's port would move; restart fleetd to apply it`;
  }
  if (JSON.stringify(next.metrics ?? null) !== JSON.stringify(current.metrics ?? null)) {
    return `metrics changed from ${JSON.stringify(current.metrics ?? null)} to ${JSON.stringify(next.metrics ?? null)}; the metrics listener is opened at start-up: restart fleetd (systemctl restart fleetd) to apply it`;
  }
  return undefined;
}
