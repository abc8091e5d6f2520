// The probes' HTTP client: one GET on a fresh TCP connection, `Connection: close`, read to
// the end, written on node:net. node:http's client costs twice the CPU per request (its
// agent, parser and ClientRequest machinery), and fleetd sends one request per running agent
// per probe interval while it is ready or refused (three while it answers but is not ready: probe.ts). A fresh
// connection per request on purpose: a SIGSTOPped gateway still accepts connections in the
// kernel backlog but never answers, so only the timeout can tell.
import { connect } from 'node:net';
import type { HttpAnswer } from './probe.js';

/** Largest body kept (bytes); the rest of the answer is read and dropped. */
export const MAX_BODY_BYTES = 65_536;

/** GET `url` (http://host:port/path); resolves with status and body, rejects on a network error, a malformed answer or `signal`. */
export function rawHttpGet(url: string, init: { signal: AbortSignal }): Promise<HttpAnswer> {
  const target = new URL(url);
  if (target.protocol !== 'http:') return Promise.reject(new Error(`only http:// URLs are probed, not ${url}`));
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port = Number(target.port || 80);
  return new Promise<HttpAnswer>((resolve, reject) => {
    if (init.signal.aborted) return reject(init.signal.reason);
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const socket = connect({ host, port });
    const settle = (err: unknown, answer?: HttpAnswer) => {
      if (settled) return;
      settled = true;
      init.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const onAbort = () => settle(init.signal.reason ?? new Error('aborted'));
    init.signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      // write, not end: a half-closed request makes some servers (node:http) hang up at once
      socket.write(`GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      // the header block plus MAX_BODY_BYTES is all we keep
      if (size <= MAX_BODY_BYTES + 16_384) chunks.push(chunk);
      size += chunk.length;
    });
    socket.once('end', () => {
      try {
        settle(null, parseAnswer(Buffer.concat(chunks)));
      } catch (err) {
        settle(err);
      }
    });
    socket.once('error', (err) => settle(err));
  });
}

/** Parses a whole HTTP/1.x answer: status line, headers, body (chunked or not, cut at MAX_BODY_BYTES). */
export function parseAnswer(raw: Buffer): HttpAnswer {
  if (raw.length === 0) throw new Error('the connection closed without an answer');
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error('malformed HTTP answer: no end of headers');
  const head = raw.toString('latin1', 0, headEnd).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
  if (!status) throw new Error(`malformed HTTP status line: ${JSON.stringify((head[0] ?? '').slice(0, 80))}`);
  const chunked = head.slice(1).some((line) => /^transfer-encoding:.*\bchunked\b/i.test(line));
  let body = raw.subarray(headEnd + 4);
  if (chunked) body = dechunk(body);
  return { status: Number(status[1]), body: body.subarray(0, MAX_BODY_BYTES).toString('utf8') };
}

/** Decodes a chunked body (as much of it as arrived). */
function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(data.toString('latin1', at, lineEnd).split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size) || size <= 0) break;
    parts.push(data.subarray(lineEnd + 2, Math.min(data.length, lineEnd + 2 + size)));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
