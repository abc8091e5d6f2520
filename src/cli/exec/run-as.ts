// Who runs `fleetctl exec`'s command: the agent's user. The caller IS that user (run it
// directly), or is root (drop to it with setpriv, as the gateway's launch chain does:
// `setpriv --reuid U --regid G --init-groups --`), or is refused with the way to do it. Pure.

/** The user an agent runs as (from the exec spec). */
export interface TargetUser {
  uid: number;
  gid: number;
  name: string;
}

/** How to become the agent's user. */
export type RunAsPlan = { kind: 'direct' } | { kind: 'setpriv'; prefix: string[] } | { kind: 'refuse'; message: string };

/** Decides how `callerUid` runs a command as `user`; `setpriv` is its absolute path when found. */
export function planRunAs(callerUid: number, user: TargetUser, address: string, setpriv: string | undefined): RunAsPlan {
  if (callerUid === user.uid) return { kind: 'direct' };
  if (callerUid !== 0) {
    return {
      kind: 'refuse',
      message: `${address} runs as user ${user.name} (uid ${user.uid}) and you are uid ${callerUid}: only that user or root may act as the agent. Run it as ${user.name} (e.g. sudo -u ${user.name} fleetctl ...) or as root`,
    };
  }
  if (!setpriv) {
    return { kind: 'refuse', message: `running as ${user.name} (uid ${user.uid}) needs setpriv from util-linux, which is not installed (looked in /usr/bin, /bin, /usr/sbin, /sbin); install util-linux` };
  }
  // A uid without a passwd entry has no supplementary groups to load.
  const groups = /^\d+$/.test(user.name) ? '--clear-groups' : '--init-groups';
  return { kind: 'setpriv', prefix: [setpriv, '--reuid', String(user.uid), '--regid', String(user.gid), groups, '--'] };
}

/** Where setpriv is looked for (fixed folders: the caller's PATH is not trusted as root). */
export const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv', '/sbin/setpriv'] as const;
