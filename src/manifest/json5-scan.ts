// What JSON5.parse does not tell: where things are. Positions are line:column as an editor
// shows them, for every line-ending convention JSON5 accepts (\n, \r\n, \r, U+2028,
// U+2029; the json5 package counts only \n); keys written twice in one object (JSON5 keeps
// the last silently: a dropped `fleets` block would stop its agents); and nesting deeper
// than MAX_JSON_DEPTH (issue 9 item 5). One iterative pass over text JSON5.parse accepted:
// no recursion, so no input depth can exhaust the stack.
import JSON5 from 'json5';
import { MAX_JSON_DEPTH } from '../util/json-depth.js';
import type { PathSegment } from './render-issues.js';

/** A place in the text: 1-based line and column (columns count characters, not bytes). */
export interface TextPosition {
  line: number;
  column: number;
}

/** A key written twice in one object. */
export interface DuplicateKey {
  /** Path of the key (the object's path plus the key). */
  path: PathSegment[];
  first: TextPosition;
  again: TextPosition;
}

/** What scanJson5 found. */
export interface ScanResult {
  duplicates: DuplicateKey[];
  /** The first object/array nested deeper than the limit, where it opens. */
  tooDeep?: { path: PathSegment[]; at: TextPosition; maxDepth: number };
}

/** True for the characters JSON5 ends a line with. */
function isLineBreak(c: string | undefined): boolean {
  return c === '\n' || c === '\r' || c === '\u2028' || c === '\u2029';
}

/** Line and column of UTF-16 offset `offset` (\r\n counts as one line break). */
export function positionAt(text: string, offset: number): TextPosition {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    const c = text[i];
    if (c === '\r' && text[i + 1] === '\n') continue; // counted at the \n
    if (isLineBreak(c)) {
      line++;
      lineStart = i + 1;
    }
  }
  // Characters, not UTF-16 units: a surrogate pair is one column.
  let column = 1;
  for (let i = lineStart; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xdc00 && code <= 0xdfff && i > lineStart && text.charCodeAt(i - 1) >= 0xd800 && text.charCodeAt(i - 1) <= 0xdbff) continue;
    column++;
  }
  return { line, column };
}

/** Offset in `text` of a json5 error position (json5 counts lines at \n only, columns in UTF-16 units). */
export function json5ErrorOffset(text: string, lineNumber: number, columnNumber: number): number {
  let offset = 0;
  for (let line = 1; line < lineNumber; line++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  return Math.min(text.length, offset + Math.max(0, columnNumber - 1));
}

/** One open object or array. */
interface Frame {
  kind: 'object' | 'array';
  path: PathSegment[];
  /** Objects: keys seen, with their offsets. */
  keys: Map<string, number>;
  /** Objects: the next token is a key. */
  expectKey: boolean;
  /** Objects: the last key; arrays: the index of the current item. */
  current: PathSegment;
}

/** Skips whitespace and comments from `i`; returns the next significant offset. */
function skipBlank(text: string, i: number): number {
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text[i] === '/' && text[i + 1] === '/') {
      while (i < text.length && !isLineBreak(text[i])) i++;
    } else if (text[i] === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      i = close < 0 ? text.length : close + 2;
    } else {
      return i;
    }
  }
}

/** Offset just past the string literal starting at `i` (its quote). */
function skipString(text: string, i: number): number {
  const quote = text[i];
  i++;
  while (i < text.length && text[i] !== quote) i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

/** Offset just past an unquoted token (identifier key, number, literal) starting at `i`. */
function skipBare(text: string, i: number, stop: RegExp): number {
  while (i < text.length && !stop.test(text[i]!) && !/\s/.test(text[i]!) && !(text[i] === '/' && (text[i + 1] === '/' || text[i + 1] === '*'))) i++;
  return i;
}

/** The key a key token means (escapes decoded, as JSON5 reads it). */
function decodeKey(raw: string): string {
  if (raw.startsWith('"') || raw.startsWith("'")) return JSON5.parse<string>(raw);
  return raw.replace(/\\u([0-9a-fA-F]{4})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Scans text that JSON5.parse accepted: duplicate keys, and nesting deeper than `maxDepth`. */
export function scanJson5(text: string, maxDepth: number = MAX_JSON_DEPTH): ScanResult {
  const duplicates: DuplicateKey[] = [];
  const stack: Frame[] = [];
  const valuePath = (): PathSegment[] => {
    const top = stack[stack.length - 1];
    return top ? [...top.path, top.current] : [];
  };
  let i = skipBlank(text, 0);
  while (i < text.length) {
    const top = stack[stack.length - 1];
    const c = text[i]!;
    if (top?.kind === 'object' && top.expectKey && c !== '}') {
      const end = c === '"' || c === "'" ? skipString(text, i) : skipBare(text, i, /[:]/);
      const key = decodeKey(text.slice(i, end));
      const first = top.keys.get(key);
      if (first !== undefined) duplicates.push({ path: [...top.path, key], first: positionAt(text, first), again: positionAt(text, i) });
      else top.keys.set(key, i);
      top.current = key;
      top.expectKey = false;
      i = skipBlank(text, end);
      if (text[i] === ':') i = skipBlank(text, i + 1);
      continue;
    }
    if (c === '{' || c === '[') {
      const path = valuePath();
      if (stack.length + 1 > maxDepth) return { duplicates, tooDeep: { path, at: positionAt(text, i), maxDepth } };
      stack.push({ kind: c === '{' ? 'object' : 'array', path, keys: new Map(), expectKey: c === '{', current: 0 });
      i = skipBlank(text, i + 1);
      continue;
    }
    if (c === '}' || c === ']') {
      stack.pop();
      i = skipBlank(text, i + 1);
      continue;
    }
    if (c === ',') {
      if (top?.kind === 'object') top.expectKey = true;
      else if (top) top.current = (top.current as number) + 1;
      i = skipBlank(text, i + 1);
      continue;
    }
    i = skipBlank(text, c === '"' || c === "'" ? skipString(text, i) : skipBare(text, i, /[,\]}]/));
  }
  return { duplicates };
}
