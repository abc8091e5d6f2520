// The one renderer of paths into user data (manifest keys, request bodies, registry
// entries) and of zod issues by path: `fleets.acme.agents.korax`, `command[0]`,
// `agents["acme/korax"].token`. zod's raw issue dumps never reach people.
import type { z } from 'zod';

/** One segment of a path: an object key or an array index. */
export type PathSegment = string | number;

/** Segments shown at each end of a path too long to show whole (a deeply nested value). */
const PATH_ENDS = 6;

/** Renders a path as people write it in JSON5 (`fleets.acme.agents.korax`, `command[0]`, `env["a.b"]`); `(top level)` for the empty path; a very long one shortened in the middle. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  const segment = (seg: PropertyKey, first: boolean) =>
    typeof seg === 'number' ? `[${seg}]` : typeof seg === 'string' && /^[A-Za-z0-9_$-]+$/.test(seg) ? (first ? seg : `.${seg}`) : `[${JSON.stringify(String(seg))}]`;
  if (path.length > 2 * PATH_ENDS + 1) {
    const head = path.slice(0, PATH_ENDS).map((seg, i) => segment(seg, i === 0)).join('');
    const tail = path.slice(-PATH_ENDS).map((seg) => segment(seg, false)).join('');
    return `${head}...(${path.length - 2 * PATH_ENDS} more levels)${tail}`;
  }
  return path.map((seg, i) => segment(seg, i === 0)).join('');
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
