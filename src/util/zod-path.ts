// The one renderer of paths into user data (manifest keys, request bodies, registry
// entries) and of zod issues by path: `fleets.acme.agents.korax`, `command[0]`,
// `agents["acme/korax"].token`. zod's raw issue dumps never reach people.
import type { z } from 'zod';

/** One segment of a path: an object key or an array index. */
export type PathSegment = string | number;

/** Renders a path as people write it in JSON5; `(top level)` for the empty path. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z0-9_$-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** Renders zod issues as `prefix.path: message` joined by `; ` (prefix alone for the root). */
export function renderZodIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.length === 0 ? '' : formatPath(issue.path);
      const where = prefix && path ? `${prefix}${path.startsWith('[') ? '' : '.'}${path}` : prefix || path || '(top level)';
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}
