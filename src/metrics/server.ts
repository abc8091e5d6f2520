// The metrics endpoint: GET /metrics on the manifest's `metrics.listen` address, the
// Prometheus text exposition; anything else is 404, a method other than GET/HEAD 405.
// It reads nothing from a request, so a scraper cannot change anything.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { FleetError } from '../errors.js';
import type { ListenAddress } from './listen.js';

/** A logger shape. */
interface Log {
  warn(obj: object, msg: string): void;
}

/** Starts serving `render()` on `address`; PROVISION_FAILED naming the address when it cannot listen. */
export async function startMetricsServer(address: ListenAddress, render: () => Promise<string>, contentType: string, logger?: Log): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    render().then(
      (text) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: Error) => {
        logger?.warn({ err: err.message }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable, see fleetd\'s log\n');
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.listen({ host: address.host, port: address.port, exclusive: true });
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
  } catch (err) {
    server.close();
    throw new FleetError('PROVISION_FAILED', `cannot serve metrics on ${address.host}:${address.port}: ${(err as Error).message}; change metrics.listen in the manifest`, { cause: err });
  }
  return server;
}
