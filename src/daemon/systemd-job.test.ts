import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobTypeOf, systemdIsRestarting, unitOfCgroup } from './systemd-job.js';

test('the unit comes from fleetd\'s own cgroup, v1 or v2, delegated sub-cgroups included', () => {
  assert.equal(unitOfCgroup('0::/system.slice/fleetd.service/supervisor\n'), 'fleetd.service');
  assert.equal(unitOfCgroup('12:pids:/system.slice/fleetd.service\n1:name=systemd:/system.slice/fleetd.service\n'), 'fleetd.service');
  assert.equal(unitOfCgroup('0::/user.slice/user-0.slice/session-3.scope\n'), undefined);
});

test('the job type is read from list-jobs; only restart kinds leave the gateways running', async () => {
  const listing = '1234 fleetd.service restart running\n1240 other.service start waiting\n';
  assert.equal(jobTypeOf(listing, 'fleetd.service'), 'restart');
  assert.equal(jobTypeOf('', 'fleetd.service'), undefined);
  const cgroup = async () => '0::/system.slice/fleetd.service\n';
  const env = { INVOCATION_ID: 'abc' };
  assert.equal(await systemdIsRestarting({ env, readCgroup: cgroup, listJobs: async () => listing }), true);
  assert.equal(await systemdIsRestarting({ env, readCgroup: cgroup, listJobs: async () => '99 fleetd.service stop running\n' }), false);
  assert.equal(await systemdIsRestarting({ env, readCgroup: cgroup, listJobs: async () => '' }), false, 'no job: a crash or kill, not a restart');
  assert.equal(await systemdIsRestarting({ env: {}, readCgroup: cgroup, listJobs: async () => listing }), false, 'not under systemd');
  assert.equal(await systemdIsRestarting({ env, readCgroup: cgroup, listJobs: async () => Promise.reject(new Error('no bus')) }), false, 'a failing systemctl means stop');
});
