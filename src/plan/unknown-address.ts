// The NOT_FOUND answer for an address or fleet fleetd does not know, made helpful: the
// agents of that fleet when the fleet exists, else the fleets there are (pure).
import { FleetError } from '../errors.js';
import { nameList } from '../util/name-list.js';

/** Most names one message lists; the rest are counted. */
const MAX_NAMES = 8;

/** The fleets of `known` (addresses `fleet/agent`), sorted, each once. */
function fleetsOf(known: Iterable<string>): string[] {
  return [...new Set([...known].map((a) => a.slice(0, a.indexOf('/'))))].sort();
}

/**
 * NOT_FOUND for `target` (`fleet/agent`, or a fleet id alone) among the `known` addresses:
 * `no agent acme/x; agents of acme: a, b` or `no fleet zeta; fleets: acme, globex`
 * (at most 8 names, then a count), and where to see them all; `also` follows the first
 * words (`no agent acme/x and no home of it`).
 */
export function unknownTarget(target: string, known: Iterable<string>, also = ''): FleetError {
  const slash = target.indexOf('/');
  const fleet = slash < 0 ? target : target.slice(0, slash);
  const all = [...known];
  const members = all.filter((a) => a.startsWith(`${fleet}/`)).map((a) => a.slice(fleet.length + 1)).sort();
  const what = slash < 0 ? `no fleet ${fleet}` : `no agent ${target}`;
  const help =
    slash >= 0 && members.length > 0
      ? `agents of ${fleet}: ${nameList(members, MAX_NAMES)}`
      : `${slash >= 0 ? `no fleet ${fleet} either; ` : ''}fleets: ${nameList(fleetsOf(all), MAX_NAMES)}`;
  return new FleetError('NOT_FOUND', `${what}${also}; ${help} (\`fleetctl status\` lists every agent)`, { details: { target } });
}
