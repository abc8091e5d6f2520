// Test fixture for the CLI process tests: a tiny HTTP server on a Unix socket that
// answers fixed routes with canned bodies and records what it was asked. It knows
// nothing of fleetd's logic; the real end-to-end tests run the real daemon.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';

/** One request as the fixture saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  body: unknown;
}

/** A canned answer: JSON with a status, or a handler that writes the response itself. */
export type Answer = { status?: number; json: unknown } | ((req: IncomingMessage, res: ServerResponse) => void);

/** A running fixture. */
export interface FixtureServer {
  socket: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/** Starts the fixture on `<dir>/s.sock`; `answers` is keyed by `METHOD /path?query`. Unknown routes get a 404 error body. */
export async function startFixtureServer(dir: string, answers: Record<string, Answer>): Promise<FixtureServer> {
  const socket = join(dir, 's.sock');
  const requests: SeenRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    requests.push({ method: req.method ?? '', url: req.url ?? '', body: text ? JSON.parse(text) : undefined });
    const answer = answers[`${req.method} ${req.url}`];
    if (typeof answer === 'function') return answer(req, res);
    const status = answer ? (answer.status ?? 200) : 404;
    const json = answer ? answer.json : { error: { code: 'NOT_FOUND', message: `fixture has no route ${req.method} ${req.url}` } };
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
