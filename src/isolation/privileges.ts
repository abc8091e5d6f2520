// Can fleetd run gateways as other users? It needs root's powers, or these capabilities:
//   CAP_SETUID, CAP_SETGID  setpriv switches uid, gid and supplementary groups
//   CAP_CHOWN               give each home to its tenant user
//   CAP_FOWNER              chmod folders a tenant user owns (home 0700)
//   CAP_DAC_OVERRIDE        write openclaw.json into a home only its tenant can enter
//   CAP_KILL                signal gateways that run as other users
// Read from CapEff in /proc/self/status: uid 0 without those (a restricted container)
// is refused as well, with the missing ones named.
import { readFileSync } from 'node:fs';
import { FleetError } from '../errors.js';

/** Capability bit numbers (include/uapi/linux/capability.h) of what tenant users need, and why. */
export const USER_CAPABILITIES = {
  CAP_CHOWN: { bit: 0, why: "give each agent's home to its user" },
  CAP_DAC_OVERRIDE: { bit: 1, why: "write openclaw.json into a home only its user may enter" },
  CAP_FOWNER: { bit: 3, why: 'set the mode of folders a tenant user owns' },
  CAP_KILL: { bit: 5, why: 'signal gateways running as other users' },
  CAP_SETGID: { bit: 6, why: "switch to the user's group and supplementary groups (setpriv)" },
  CAP_SETUID: { bit: 7, why: 'switch to the user (setpriv)' },
} as const;

/** A name of USER_CAPABILITIES. */
export type UserCapability = keyof typeof USER_CAPABILITIES;

/** The CapEff mask of a /proc/<pid>/status text (0n when absent). */
export function parseCapEff(status: string): bigint {
  const m = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/** Capabilities of USER_CAPABILITIES missing from `capEff`. */
export function missingUserCapabilities(capEff: bigint): UserCapability[] {
  return (Object.keys(USER_CAPABILITIES) as UserCapability[]).filter((name) => (capEff & (1n << BigInt(USER_CAPABILITIES[name].bit))) === 0n);
}

/** Throws PROVISION_FAILED naming what is missing when fleetd cannot run gateways as `who` (e.g. `user "acme-gw" (fleets.acme.user)`). */
export function assertCanSwitchUsers(who: string, status: string = readFileSync('/proc/self/status', 'utf8'), uid: number = process.getuid?.() ?? -1): void {
  const missing = missingUserCapabilities(parseCapEff(status));
  if (missing.length === 0) return;
  const list = missing.map((name) => `${name} (to ${USER_CAPABILITIES[name].why})`).join(', ');
  throw new FleetError(
    'PROVISION_FAILED',
    `cannot run a gateway as ${who}: fleetd (uid ${uid}) lacks ${list}; run fleetd as root, or grant them in its systemd unit: ` +
      `AmbientCapabilities=${Object.keys(USER_CAPABILITIES).join(' ')}`,
  );
}
