// Gateway tokens: 32 random bytes, hex. Made once per agent, kept in the registry for the
// agent's whole life, never logged.
import { randomBytes } from 'node:crypto';

import { TOKEN_PATTERN } from '../plan/registry-schema.js';

export { TOKEN_PATTERN };

/** Makes a new gateway token (256 bits from the OS CSPRNG). */
export function generateToken(): string {
  return randomBytes(32).toString('hex');
}

/** True when `token` looks like one generateToken made. */
export function isValidToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}
