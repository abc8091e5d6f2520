// The files a shim leaves in its run dir, written atomically (0600) and read back by the
// shim (is another one alive here?) and by fleetd (what runs, how did it end). They hold
// pids, times and redacted output: never a secret.
import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-write.js';
import { describeIssues, exitRecordSchema, SHIM_FILES, shimRecordSchema, type ExitRecord, type ShimRecord } from './protocol.js';

/** What reading a record found. */
export type RecordRead<T> = { state: 'absent' } | { state: 'invalid'; message: string } | { state: 'ok'; value: T };

/** Paths of the files of a run dir. */
export function runDirFiles(runDir: string): { socket: string; record: string; exit: string; stderr: string } {
  return {
    socket: join(runDir, SHIM_FILES.socket),
    record: join(runDir, SHIM_FILES.record),
    exit: join(runDir, SHIM_FILES.exit),
    stderr: join(runDir, SHIM_FILES.stderr),
  };
}

/** Writes `<runDir>/shim.json` (atomic, 0600). */
export async function writeShimRecord(runDir: string, record: ShimRecord): Promise<void> {
  await writeFileAtomic(runDirFiles(runDir).record, `${JSON.stringify(record, null, 2)}\n`);
}

/** Writes `<runDir>/exit.json` (atomic, 0600). */
export async function writeExitRecord(runDir: string, record: ExitRecord): Promise<void> {
  await writeFileAtomic(runDirFiles(runDir).exit, `${JSON.stringify(record, null, 2)}\n`);
}

/** Reads and checks `<runDir>/shim.json`. */
export function readShimRecord(runDir: string): Promise<RecordRead<ShimRecord>> {
  return readRecord(runDirFiles(runDir).record, (v) => shimRecordSchema.safeParse(v));
}

/** Reads and checks `<runDir>/exit.json`. */
export function readExitRecord(runDir: string): Promise<RecordRead<ExitRecord>> {
  return readRecord(runDirFiles(runDir).exit, (v) => exitRecordSchema.safeParse(v));
}

// Reads and removals run in the caller's turn (synchronous calls): the files are small and in
// fleetd's own state dir, and a restart's spawn waits for the previous run's cleanup (a run
// dir in use is refused). Awaited, its read and three unlinks were ~7 trips through libuv's
// thread pool, each behind whatever fills fleetd's event loop: with status polled every 2 ms
// at N = 200, 7-17 ms of a kill -9 to running again.
/** Deletes shim.json, exit.json and the socket file of a run dir (missing ones are fine), in the caller's turn. */
export async function removeRunFiles(runDir: string): Promise<void> {
  const files = runDirFiles(runDir);
  for (const path of [files.exit, files.record, files.socket]) {
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** Reads one JSON record in the caller's turn; a missing file is `absent`, anything unreadable or malformed `invalid` with the reason. */
async function readRecord<T>(path: string, parse: (v: unknown) => { success: true; data: T } | { success: false; error: Parameters<typeof describeIssues>[0] }): Promise<RecordRead<T>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    return { state: 'invalid', message: `${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { state: 'invalid', message: `${path}: not JSON` };
  }
  const result = parse(json);
  return result.success ? { state: 'ok', value: result.data } : { state: 'invalid', message: `${path}: ${describeIssues(result.error)}` };
}
