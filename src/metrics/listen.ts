// The metrics listen address: `HOST:PORT` with an IP literal host (`127.0.0.1:9464`,
// `[::1]:9464`) or `localhost`. Loopback unless the manifest says `allowNonLoopback: true`:
// metrics name every agent of the fleet and are served without authentication.
import { isIP } from 'node:net';

/** A parsed listen address. */
export interface ListenAddress {
  host: string;
  port: number;
  loopback: boolean;
}

/** Parses `HOST:PORT`; returns a message naming what is wrong instead when it is not one. */
export function parseListen(text: string): ListenAddress | string {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return `expected HOST:PORT such as "127.0.0.1:9464" or "[::1]:9464", found ${JSON.stringify(text)}`;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `port must be 1-65535, found ${port}`;
  if (m[1] !== undefined && isIP(host) !== 6) return `${JSON.stringify(host)} is not an IPv6 address`;
  if (m[2] !== undefined && host !== 'localhost' && isIP(host) !== 4) return `host must be an IP address or "localhost" (no DNS lookups), found ${JSON.stringify(host)}`;
  return { host, port, loopback: isLoopback(host) };
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
