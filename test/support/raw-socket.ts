// Raw bytes to a Unix socket, for tests of what a server does with malformed or partial
// HTTP (a real HTTP client would refuse to send it).
import { connect } from 'node:net';

/** Writes `bytes` to the socket, half-closes, and resolves with everything answered before the server closed. */
export function rawExchange(socket: string, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(socket);
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
    s.end(bytes);
  });
}
