// The life of one shim: claim the run dir, open the log, serve the socket, spawn the
// gateway, record who runs; when the gateway ends: flush its output, write exit.json,
// then tell the attached fleetd, then go. The gateway's pipes are read from the first
// instant to the last whether or not anyone is attached, so it never blocks on a full pipe
// and never sees EPIPE while fleetd is away; what is read goes to the redacted, rotated
// log (synchronous writes: nothing queues in memory), a bounded tail, and the client.
import { openLogSink, type OutputStream } from '../supervise/log-sink.js';
import { createOutputTail } from '../supervise/output-tail.js';
import { readStat, rssBytes } from '../supervise/proc.js';
import { spawnProcess, type GatewayExit } from '../supervise/spawn-gateway.js';
import { claimRunDir, runDirProblem } from './run-dir.js';
import { SHIM_PROTOCOL, type ExitInfo, type ExitRecord, type ReadyLine, type ShimRecord, type ShimSpec } from './protocol.js';
import { runDirFiles, writeExitRecord, writeShimRecord } from './records.js';
import { startShimServer, type ShimServer, type ShimServerOptions } from './server.js';
import { formatDuration } from '../util/duration.js';

/** What runShim reports on the way: the ready line (once), and problems for the shim's stderr. */
export interface ShimRunIo {
  ready(line: ReadyLine): void;
  warn(text: string): void;
  now(): number;
  server?: Partial<ShimServerOptions>;
}

/** Runs the shim of `spec` until its gateway ended and the exit is recorded and told; resolves with the exit (null when it never got going). */
export async function runShim(spec: ShimSpec, io: ShimRunIo): Promise<ExitInfo | null> {
  const problem = await runDirProblem(spec.runDir);
  if (problem) {
    io.ready({ type: 'failed', code: 'run-dir', message: problem });
    return null;
  }
  const claim = await claimRunDir(spec.runDir, process.pid);
  if (!claim.ok) {
    const who = claim.holder === null ? 'a process listening on its socket' : `shim pid ${claim.holder}`;
    io.ready({ type: 'failed', code: 'busy', message: `${spec.runDir} is held by ${who}; attach to it, or stop its gateway first` });
    return null;
  }
  const files = runDirFiles(spec.runDir);
  const tail = createOutputTail(spec.tail.lines);
  const readBytes = { stdout: 0, stderr: 0 };
  let server: ShimServer | null = null;
  let diskTrouble: string | null = null;
  const sink = openLogSink({
    file: spec.log.file,
    maxBytes: spec.log.maxBytes,
    maxFiles: spec.log.maxFiles,
    secrets: spec.secrets,
    now: io.now,
    onText: (stream, text) => {
      tail.push(stream, text);
      server?.output(stream, text);
    },
    onError: (err) => {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      if (diskTrouble === null) io.warn(`cannot write ${spec.log.file} (${code}); gateway output is dropped and counted until it can`);
      diskTrouble = code;
    },
  });
  const streams = { stdout: sink.stream('stdout'), stderr: sink.stream('stderr') };
  let lostBefore = 0;
  const capture = (stream: OutputStream, chunk: Buffer) => {
    readBytes[stream] += chunk.length;
    const before = diskTrouble === null ? null : sink.stats();
    streams[stream].write(chunk);
    if (before === null) return;
    // Back from a disk failure: say in the log itself how much is missing.
    const after = sink.stats();
    if (after.writtenBytes > before.writtenBytes && after.droppedBytes === before.droppedBytes) {
      sink.note(`${after.droppedBytes - lostBefore} bytes of gateway output were lost: the log could not be written (${diskTrouble})`);
      io.warn(`writing ${spec.log.file} again after ${diskTrouble}`);
      lostBefore = after.droppedBytes;
      diskTrouble = null;
    }
  };

  const startedAt = io.now();
  const self = readStat(process.pid);
  let record: ShimRecord | null = null;
  let exit: ExitInfo | null = null;
  try {
    server = await startShimServer(
      files.socket,
      {
        record: () => record as ShimRecord,
        tail: (chars) => ({ stdout: tail.text('stdout', chars), stderr: tail.text('stderr', chars) }),
        stats: () => ({ readBytes: { ...readBytes }, log: sink.stats(), skippedBytes: server?.skippedBytes() ?? 0, rssBytes: rssBytes(process.pid), startedAt }),
        note: (text) => sink.note(text),
        exit: () => exit,
      },
      { helloTailChars: spec.tail.chars, ...io.server },
    );
  } catch (err) {
    sink.close();
    io.ready({ type: 'failed', code: 'listen', message: (err as Error).message });
    return null;
  }

  // No await between listen and spawn: a connection is only handled once `record` is set.
  const spawnedAt = io.now();
  const proc = spawnProcess(spec, { onStdout: (c) => capture('stdout', c), onStderr: (c) => capture('stderr', c) });
  record = {
    protocol: SHIM_PROTOCOL,
    name: spec.name,
    shimPid: process.pid,
    shimStartTime: self?.startTime ?? '0',
    gatewayPid: proc.pid,
    gatewayStartTime: proc.startTime,
    spawnedAt,
    specHash: spec.specHash,
    socket: files.socket,
    logFile: spec.log.file,
  };
  if (proc.pid !== null) sink.note(`spawned pid ${proc.pid} (shim pid ${process.pid}): ${spec.argv.join(' ')}`);
  const exitAt = proc.exitSeen.then(() => io.now());
  try {
    await writeShimRecord(spec.runDir, record);
  } catch (err) {
    io.warn(`cannot write ${files.record}: ${(err as Error).message}; fleetd will not find this shim after a restart`);
  }
  io.ready({ type: 'ready', record });

  const ended: GatewayExit = await proc.exited;
  streams.stdout.end();
  streams.stderr.end();
  const info: ExitInfo = { code: ended.code, signal: ended.signal, at: await exitAt, ...(ended.error ? { error: ended.error } : {}) };
  sink.note(`pid ${proc.pid ?? '-'} ${describeExit(info)} after ${formatDuration(info.at - spawnedAt)}`);
  const exitRecord: ExitRecord = {
    ...info,
    protocol: SHIM_PROTOCOL,
    name: spec.name,
    gatewayPid: proc.pid,
    gatewayStartTime: proc.startTime,
    spawnedAt,
    specHash: spec.specHash,
    tail: { stdout: tail.text('stdout', spec.tail.chars), stderr: tail.text('stderr', spec.tail.chars) },
    log: sink.stats(),
  };
  try {
    await writeExitRecord(spec.runDir, exitRecord);
  } catch (err) {
    io.warn(`cannot write ${files.exit}: ${(err as Error).message}; only an attached fleetd learns how pid ${proc.pid ?? '-'} ended`);
  }
  // Only now may a client that attaches learn the exit (hello + exit): exit.json is on disk.
  exit = info;
  await server.sendExit(exit);
  await server.close();
  sink.close();
  return exit;
}

/** "exited with code 1", "killed by SIGKILL", or the spawn error. */
export function describeExit(exit: ExitInfo): string {
  if (exit.error) return `could not start: ${exit.error}`;
  return exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
}
