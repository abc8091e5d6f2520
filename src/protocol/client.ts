// The one HTTP-over-Unix-socket client of the control API, used by fleetctl and tests.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { FleetError } from '../errors.js';
import { describePath } from '../util/path-kind.js';
import { errorFromBody } from './wire-error.js';
import { routes, routePath, type RequestInput, type ResponseBody, type RouteName } from './schemas.js';

/** Options of one call. */
export interface CallOptions<K extends RouteName> {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: RequestInput<K>;
  /** Abort (e.g. Ctrl-C during a follow). */
  signal?: AbortSignal;
  /** Raw request body for routes marked `upload` (sent as application/gzip). */
  upload?: NodeJS.ReadableStream;
}

/** Why a socket path cannot be reached, in words: what the path is, when it is not a socket (issue 9 item 5). */
export function describeUnreachable(socket: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'EACCES') return 'permission denied';
  const kind = describePath(socket);
  if (kind === undefined) return err.code === 'ENOENT' ? 'no socket file there' : err.code === 'ENOTDIR' ? 'a part of the path is not a folder' : err.message;
  if (kind !== 'a socket' && kind !== 'a symbolic link to a socket') return `it is ${kind}, not a socket`;
  return err.code === 'ECONNREFUSED' ? 'nothing listens on it (stale socket)' : err.message;
}

/** Turns a connection failure into the documented "fleetd not reachable" error. */
export function unreachable(socket: string, err: NodeJS.ErrnoException): FleetError {
  return new FleetError(
    'DAEMON_UNREACHABLE',
    `fleetd is not reachable at ${socket} (${describeUnreachable(socket, err)}). Start it with \`fleetd start --manifest <file>\` (or \`systemctl start fleetd\`), or point fleetctl at its socket with --socket or FLEETD_SOCKET.`,
    { cause: err },
  );
}

/** Sends one request and returns the raw response (not yet read). */
export function send<K extends RouteName>(socket: string, name: K, options: CallOptions<K> = {}): Promise<IncomingMessage> {
  const route = routes[name];
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const upload = options.upload;
  return new Promise((resolve, reject) => {
    const headers = upload ? { 'content-type': 'application/gzip' } : payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    let answered = false;
    let cut: NodeJS.ErrnoException | undefined;
    const req = httpRequest(
      { socketPath: socket, method: route.method, path: routePath(name, options.params, options.query), headers, signal: options.signal },
      (res) => {
        answered = true;
        // fleetd may answer (an error) before it read the whole upload: stop sending, end the body
        if (upload && !req.writableEnded) {
          (upload as NodeJS.ReadableStream & { unpipe(dest?: unknown): void }).unpipe(req);
          req.end();
        }
        resolve(res);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.name === 'AbortError') reject(err);
      else if (upload && req.headersSent && (err.code === 'EPIPE' || err.code === 'ECONNRESET')) cut = err; // fleetd cut an upload: its answer may still follow (see 'close')
      else if (['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK', 'ECONNRESET', 'ENOTDIR', 'EISDIR'].includes(err.code ?? '') && !req.reusedSocket) reject(unreachable(socket, err));
      else reject(err);
    });
    // A connection that ends without an answer must not leave the caller waiting forever.
    req.on('close', () => {
      if (!answered) reject(new FleetError('DAEMON_UNREACHABLE', `fleetd closed the connection before it answered ${name}${cut ? ` (${cut.code} while the upload was sent)` : ''}; see its log (journalctl -u fleetd)`, { cause: cut }));
    });
    if (upload) {
      upload.on('error', (err) => req.destroy(err));
      upload.pipe(req);
    } else req.end(payload);
  });
}

/** Calls a `download` route: resolves with the raw response (2xx only) to stream from. */
export async function download<K extends RouteName>(socket: string, name: K, options: CallOptions<K> = {}): Promise<IncomingMessage> {
  const res = await send(socket, name, options);
  if ((res.statusCode ?? 500) >= 300) throw errorFromBody(res.statusCode ?? 500, await readText(res));
  return res;
}

/** Reads a whole response body as text. */
export async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * fleetd's answer to one call, parsed but not checked: fleetd's error answers (status >= 300)
 * throw as FleetErrors (errorFromBody), text that is not JSON is INTERNAL.
 */
async function answerOf<K extends RouteName>(socket: string, name: K, options: CallOptions<K>): Promise<unknown> {
  const res = await send(socket, name, options);
  const text = await readText(res);
  if ((res.statusCode ?? 500) >= 300) throw errorFromBody(res.statusCode ?? 500, text);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FleetError('INTERNAL', `fleetd answered ${name} with invalid JSON`, { cause: err });
  }
}

/** INTERNAL: fleetd's answer to `name` is not of the shape this fleetctl's protocol says (another version's fleetd, or no fleetd). */
export function protocolMismatch(name: RouteName, cause?: unknown): FleetError {
  return new FleetError('INTERNAL', `fleetd's answer to ${name} does not match this fleetctl's protocol (version mismatch?)`, cause === undefined ? undefined : { cause });
}

/** Calls a route and returns its validated JSON response. */
export async function call<K extends RouteName>(socket: string, name: K, options: CallOptions<K> = {}): Promise<ResponseBody<K>> {
  return (await callRaw(socket, name, options)).data;
}

/**
 * The JSON object fleetd answered, NOT checked against the route's response schema: for
 * commands that only print it verbatim (`fleetctl --json status`: checking 200 agent
 * views cost a fresh fleetctl ~14 ms of its ~150). INTERNAL when the answer is not a
 * JSON object; fleetd's errors throw as in `call`.
 */
export async function callJson<K extends RouteName>(socket: string, name: K, options: CallOptions<K> = {}): Promise<Record<string, unknown>> {
  const json = await answerOf(socket, name, options);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FleetError('INTERNAL', `fleetd's answer to ${name} is not a JSON object`);
  return json as Record<string, unknown>;
}

/** Like `call`, also returning the body exactly as fleetd sent it (fleetctl --json prints it verbatim). */
export async function callRaw<K extends RouteName>(socket: string, name: K, options: CallOptions<K> = {}): Promise<{ data: ResponseBody<K>; raw: unknown }> {
  const json = await answerOf(socket, name, options);
  const parsed = routes[name].response.safeParse(json);
  if (!parsed.success) throw protocolMismatch(name, parsed.error);
  return { data: parsed.data as ResponseBody<K>, raw: json };
}

/** Calls a streaming route and yields each NDJSON object as it arrives. */
export async function* stream<K extends RouteName>(socket: string, name: K, options: CallOptions<K> = {}): AsyncGenerator<unknown> {
  const res = await send(socket, name, options);
  if ((res.statusCode ?? 500) >= 300) throw errorFromBody(res.statusCode ?? 500, await readText(res));
  let buffered = '';
  for await (const chunk of res) {
    buffered += (chunk as Buffer).toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim()) yield JSON.parse(line);
    }
  }
  if (buffered.trim()) yield JSON.parse(buffered);
}
