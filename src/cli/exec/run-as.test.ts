import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRunAs } from './run-as.js';

const user = { uid: 998, gid: 997, name: 'fleetd' };

test('the agent\'s own user runs directly; root drops to it with setpriv; anyone else is refused with the way to do it', () => {
  assert.deepEqual(planRunAs(998, user, 'acme/a', undefined), { kind: 'direct' });
  assert.deepEqual(planRunAs(0, user, 'acme/a', '/usr/bin/setpriv'), {
    kind: 'setpriv',
    prefix: ['/usr/bin/setpriv', '--reuid', '998', '--regid', '997', '--init-groups', '--'],
  });
  const refused = planRunAs(1000, user, 'acme/a', '/usr/bin/setpriv');
  assert.equal(refused.kind, 'refuse');
  assert.match((refused as { message: string }).message, /acme\/a runs as user fleetd \(uid 998\) and you are uid 1000.*sudo -u fleetd/);
  assert.deepEqual(planRunAs(0, { uid: 0, gid: 0, name: 'root' }, 'acme/a', undefined), { kind: 'direct' });
});

test('root without setpriv is refused naming util-linux; a uid without a name clears groups instead of loading them', () => {
  assert.match((planRunAs(0, user, 'acme/a', undefined) as { message: string }).message, /setpriv from util-linux/);
  const plan = planRunAs(0, { uid: 4242, gid: 4242, name: '4242' }, 'acme/a', '/usr/bin/setpriv');
  assert.deepEqual(plan, { kind: 'setpriv', prefix: ['/usr/bin/setpriv', '--reuid', '4242', '--regid', '4242', '--clear-groups', '--'] });
});
