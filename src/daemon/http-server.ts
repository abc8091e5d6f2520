// The control socket: HTTP/1.1 + JSON over a Unix socket. Matches a request to a route of
// the shared protocol, validates params and body with its zod schema, calls the handler
// from a typed map (a route without a handler does not compile), and turns every failure
// into a 4xx/5xx `{ error: { code, message } }`. Nothing a client sends can crash fleetd:
// malformed HTTP gets 400 before any handler runs, a body nested too deep gets 400, and a
// client that dribbles its headers or body is cut off after a bounded time (issue 9 item 5)
// while others are served. Every answer passes through redact.ts (item 6), except the one
// route whose answer IS a secret (`answersSecret` in the protocol).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { FleetError, HTTP_STATUS, toFleetError } from '../errors.js';
import { idSchema, paramSchemas, MAX_BODY_BYTES, routes, type RequestBody, type ResponseBody, type RouteName } from '../protocol/schemas.js';
import { compileSecrets, stringifyRedacted, type SecretMatcher } from '../supervise/redact.js';
import { formatPath } from '../manifest/render-issues.js';
import { findTooDeep, MAX_JSON_DEPTH } from '../util/json-depth.js';
import type { Logger } from './logger.js';
import type { z } from 'zod';
import { renderZodIssues } from '../util/zod-path.js';

/** Limits and redaction of the control server (defaults suit the daemon; tests shorten the timeouts). */
export interface ControlServerOptions {
  /** The secrets no answer may carry, as a matcher read per answer (logger.ts secretMatcher: the one fleetd's log uses too); absent: none. */
  matcher?: () => SecretMatcher;
  /** A client must have sent its whole request head within this time (ms, default 10 s). */
  headersTimeoutMs?: number;
  /** ... and its whole request, body included, within this time (ms, default 30 s). Answers may stream for longer. */
  requestTimeoutMs?: number;
  /** How often those two are checked (ms, default 1 s). */
  checkIntervalMs?: number;
}

/** A handler's answer when it streams NDJSON instead of one JSON document. */
export interface Streamed {
  stream: AsyncIterable<unknown>;
}

/**
 * A handler's answer that writes its own JSON text (an answer assembled from parts serialized
 * before: the status of every agent, views.ts). `write` gets the matcher every answer is
 * redacted with and must redact every string of the text with it, as stringifyRedacted does;
 * it is called once, as the answer is sent.
 */
export class JsonText<T = unknown> {
  constructor(readonly write: (secrets: SecretMatcher) => string) {}
  /** The shape of the document `write` gives (types only). */
  declare readonly body?: T;
}

/** A handler's answer when it sends raw bytes (routes marked `download`, e.g. a backup archive). */
export interface Downloaded {
  download: NodeJS.ReadableStream;
  contentType: string;
}

/** What a handler gets. */
export interface HandlerRequest<K extends RouteName> {
  params: { fleet?: string; agent?: string; version?: string };
  query: URLSearchParams;
  body: RequestBody<K>;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** The raw request body, for routes marked `upload` (their body is not read as JSON). */
  upload?: IncomingMessage;
}

/** One handler per route. */
export type Handler<K extends RouteName> = (req: HandlerRequest<K>) => Promise<ResponseBody<K> | JsonText<ResponseBody<K>> | Streamed | Downloaded>;

/** The typed map: every route must have its handler. */
export type HandlerMap = { [K in RouteName]: Handler<K> };

/** Matches `/v1/agents/:fleet/:agent/logs` against a concrete path. */
function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(':')) {
      let value: string;
      try {
        value = decodeURIComponent(g);
      } catch {
        throw new FleetError('BAD_REQUEST', `path segment ${JSON.stringify(g)} is not valid URL encoding`);
      }
      params[w.slice(1)] = value;
    } else if (w !== g) return undefined;
  }
  return params;
}

/** Finds the route for method+path; 404/405 errors when there is none. */
function findRoute(method: string, path: string): { name: RouteName; params: Record<string, string> } {
  let pathMatched = false;
  for (const name of Object.keys(routes) as RouteName[]) {
    const params = matchPath(routes[name].path, path);
    if (!params) continue;
    pathMatched = true;
    if (routes[name].method === method) return { name, params };
  }
  if (pathMatched) throw new FleetError('BAD_REQUEST', `method ${method} is not allowed on ${path}`, { details: { status: 405 } });
  throw new FleetError('NOT_FOUND', `no route ${method} ${path}; see the README's "Control socket" section for the routes`, { details: { status: 404 } });
}

/** Reads the body up to MAX_BODY_BYTES; undefined when empty. */
async function readBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new FleetError('BAD_REQUEST', `request body of ${declared} bytes is over the ${MAX_BODY_BYTES}-byte limit`, { details: { status: 413 } });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new FleetError('BAD_REQUEST', `request body is over the ${MAX_BODY_BYTES}-byte limit`, { details: { status: 413 } });
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text); // V8's parser is iterative: any depth parses; the depth check comes next
  } catch (err) {
    throw new FleetError('BAD_REQUEST', `request body is not valid JSON: ${(err as Error).message}`);
  }
  const deep = findTooDeep(parsed, MAX_JSON_DEPTH);
  if (deep) throw new FleetError('BAD_REQUEST', `request body nests deeper than ${MAX_JSON_DEPTH} levels at ${formatPath(['body', ...deep])}; flatten it`);
  checkKeys(parsed);
  return parsed;
}

/** Keys JavaScript gives another meaning are refused anywhere in a body (depth already bounded). */
function checkKeys(value: unknown): void {
  const stack = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (item === null || typeof item !== 'object') continue;
    for (const [key, child] of Object.entries(item)) {
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw new FleetError('BAD_REQUEST', `request body may not contain the key ${JSON.stringify(key)}`);
      stack.push(child);
    }
  }
}

/** Sends one JSON document, every string in it redacted with `secrets`. */
function sendJson(res: ServerResponse, status: number, body: unknown, secrets: SecretMatcher = NO_SECRETS, close = true): void {
  sendText(res, status, stringifyRedacted(body, secrets), close);
}

/** Sends one JSON document already serialized (and redacted). */
// Encoded once: Buffer.byteLength walked the text for its length and the socket's write
// encoded it again, two passes over ~200 KB per status answer at 200 agents (~0.13 ms of
// each poll's ~2 ms in fleetd, CPU profile, issue 14).
function sendText(res: ServerResponse, status: number, text: string, close = true): void {
  const body = Buffer.from(text, 'utf8');
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, ...(close ? { connection: 'close' } : {}) });
  res.end(body);
}

/** A matcher that redacts nothing (the token route, and servers without secrets). */
const NO_SECRETS = compileSecrets([]);

/** Sends the error body for any thrown value. */
function sendError(res: ServerResponse, err: unknown, log: Logger, secrets: SecretMatcher, close = true): void {
  const fleetError = toFleetError(err);
  const override = (fleetError.details as { status?: number } | undefined)?.status;
  const status = override ?? HTTP_STATUS[fleetError.code];
  if (status >= 500) log.error({ code: fleetError.code, err: fleetError.message }, 'request failed');
  const details = fleetError.details && typeof fleetError.details === 'object' && 'status' in (fleetError.details as object) ? undefined : fleetError.details;
  if (res.headersSent) {
    res.end(stringifyRedacted({ error: { code: fleetError.code, message: fleetError.message } }, secrets) + '\n');
    return;
  }
  sendJson(res, status, { error: { code: fleetError.code, message: fleetError.message, ...(details === undefined ? {} : { details }) } }, secrets, close);
}

/** Streams NDJSON until the iterable ends or the client leaves; each line redacted. */
async function sendStream(res: ServerResponse, stream: AsyncIterable<unknown>, signal: AbortSignal, secrets: SecretMatcher): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked', 'cache-control': 'no-store' });
  for await (const item of stream) {
    if (signal.aborted) break;
    // Backpressure: a client that stops reading must not grow fleetd's memory.
    if (!res.write(stringifyRedacted(item, secrets) + '\n')) await once(res, 'drain', { signal }).catch(() => undefined);
  }
  res.end();
}

/** Sends raw bytes; a failure after the first byte cuts the connection (the client sees a truncated body, never a silent one). */
async function sendDownload(res: ServerResponse, result: Downloaded, signal: AbortSignal, log: Logger): Promise<void> {
  res.writeHead(200, { 'content-type': result.contentType, 'transfer-encoding': 'chunked', 'cache-control': 'no-store' });
  try {
    for await (const chunk of result.download as AsyncIterable<Buffer>) {
      if (signal.aborted) break;
      if (!res.write(chunk)) await once(res, 'drain', { signal }).catch(() => undefined);
    }
    res.end();
  } catch (err) {
    log.error({ err: toFleetError(err).message }, 'download failed after it started; connection cut');
    res.destroy();
  }
}

/** Handles one request end to end. */
async function handle(req: IncomingMessage, res: ServerResponse, handlers: HandlerMap, log: Logger, matcher: () => SecretMatcher): Promise<void> {
  let secrets = matcher();
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  try {
    const url = new URL(req.url ?? '/', 'http://fleetd');
    const { name, params } = findRoute(req.method ?? 'GET', url.pathname);
    if ('answersSecret' in routes[name]) secrets = NO_SECRETS; // the one answer that is a secret, by design
    for (const [key, value] of Object.entries(params)) {
      const ok = (paramSchemas[key] ?? idSchema).safeParse(value);
      if (!ok.success) throw new FleetError('BAD_REQUEST', `${key} ${JSON.stringify(value.slice(0, 80))}: ${ok.error.issues[0]?.message ?? 'invalid id'}`);
    }
    const route = routes[name];
    const upload = 'upload' in route && route.upload === true;
    const raw = upload ? undefined : await readBody(req);
    const schema = route.body as z.ZodType;
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw new FleetError('BAD_REQUEST', `invalid request body for ${name}: ${renderZodIssues(parsed.error, 'body')}`);
    const handler = handlers[name] as Handler<RouteName>;
    const result = await handler({ params, query: url.searchParams, body: parsed.data as RequestBody<RouteName>, signal: controller.signal, ...(upload ? { upload: req } : {}) });
    if (result && typeof result === 'object' && 'download' in result && typeof (result as Downloaded).contentType === 'string') {
      await sendDownload(res, result as Downloaded, controller.signal, log);
    } else if (result && typeof result === 'object' && 'stream' in result && typeof (result as Streamed).stream?.[Symbol.asyncIterator] === 'function') {
      await sendStream(res, (result as Streamed).stream, controller.signal, secrets);
    } else if (result instanceof JsonText) {
      sendText(res, 200, result.write(secrets));
    } else {
      sendJson(res, 200, result, secrets);
    }
  } catch (err) {
    // Read and discard an unread body so the client's writes never fail before it has read
    // the answer (cutting a refused upload at once made the client see EPIPE instead of
    // the error). An upload may be large: the client ends it when it gets the answer, and
    // the connection is cut UPLOAD_LINGER_MS after the answer anyway (a lingering close;
    // no `connection: close`, which would end the socket, and its reading, at once).
    const linger = req.readableEnded === false && (req.headers['content-type'] ?? '').startsWith('application/gzip');
    if (req.readableEnded === false) req.resume();
    if (linger) {
      res.once('finish', () => {
        const cut = setTimeout(() => req.destroy(), UPLOAD_LINGER_MS);
        cut.unref();
        req.once('end', () => clearTimeout(cut));
      });
    }
    sendError(res, err, log, matcher(), !linger);
  }
}

/** How long a refused upload is still read (and discarded) after the answer, so the client can read that answer, ms. */
const UPLOAD_LINGER_MS = 5000;

/** The raw answer to a request the HTTP parser refused (or a client too slow to finish one). */
function clientErrorAnswer(err: NodeJS.ErrnoException): string {
  const [status, text, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'request head too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'request not received in time (headers or body sent too slowly)']
        : [400, 'Bad Request', 'malformed HTTP request'];
  const body = JSON.stringify({ error: { code: 'BAD_REQUEST', message } });
  return `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

// Timeouts: Node checks them every `connectionsCheckingInterval`. requestTimeout ends when
// the request has been RECEIVED: a log follow or a runtime install may answer for hours.
/** Creates the HTTP server (not yet listening). */
export function createControlServer(handlers: HandlerMap, log: Logger, options: ControlServerOptions = {}): Server {
  const matcher = options.matcher ?? (() => NO_SECRETS);
  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const server = createServer(
    {
      headersTimeout,
      requestTimeout: Math.max(options.requestTimeoutMs ?? 30_000, headersTimeout),
      connectionsCheckingInterval: options.checkIntervalMs ?? 1000,
      keepAliveTimeout: 5000,
    },
    (req, res) => {
      handle(req, res, handlers, log, matcher).catch((err) => {
        log.error({ err: (err as Error).message }, 'unexpected error while answering a request');
        if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
        else res.destroy();
      });
    },
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable && !socket.writableEnded) socket.end(clientErrorAnswer(err));
    else socket.destroy();
  });
  return server;
}
