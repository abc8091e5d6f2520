// The one redaction module of fleetd (layout decision 4): every writer of gateway output
// (log sink, per-agent shim, log answers), fleetd's own log lines and its socket answers
// pass text through it. A secret is caught whole AND in pieces: any run of MIN_PIECE (8)
// or more characters that occurs inside a secret is replaced, so a token printed in two
// halves, or cut by chunk boundaries anywhere, never reaches a file or an answer.
//
// Pure and self-contained on purpose (no daemon imports, no I/O): a separate process (the
// shim) imports it as is. Characters are UTF-16 code units (= characters for the ASCII
// tokens fleetd makes).

/** What replaces a secret or a piece of one (one marker per run, however long). */
export const REDACTED = '<redacted>';

/** Shortest run of a secret's characters that is redacted wherever it appears. */
export const MIN_PIECE = 8;

/** Secrets shorter than this are ignored: redacting 1-3 characters everywhere would blank ordinary words. */
export const MIN_SECRET = 4;

/** A compiled set of secrets (compile once, use for many lines or streams). */
export interface SecretMatcher {
  /** Window lengths checked: MIN_PIECE, plus the length of each secret shorter than it (redacted whole), longest first. */
  readonly lengths: readonly number[];
  /** Whether s[start, start + length) is a window of that length inside a secret (length: one of `lengths`). */
  has(s: string, start: number, length: number): boolean;
  /**
   * Every proper prefix of a window: text ending in one may still turn into a piece. Built on
   * first use: only streaming redaction needs it, and for fleetd's own log (every agent's
   * secrets, whole lines only) it would be ~7 strings per window, ~5 MB of heap at 200 agents.
   */
  readonly prefixes: ReadonlySet<string>;
  /** Characters that occur in some secret (a window containing any other character cannot match). */
  readonly chars: ReadonlySet<string>;
  /** Longest window length (0 when there is nothing to redact). */
  readonly maxLength: number;
  /** Changes whenever its secrets do: a text redacted with this matcher at one version is redacted the same while the version stays (views.ts keeps each agent's redacted status text by it). */
  readonly version: number;
}

/** Streaming redaction of one text stream (one per stdout, per stderr). */
export interface Redactor {
  /** Feeds text; returns what is final and safe to write now (it may hold back up to MIN_PIECE - 1 characters). */
  push(text: string): string;
  /** Ends the stream: returns the held-back rest, redacted where needed. */
  end(): string;
}

/** Compiles `secrets` (duplicates, empty and too-short ones dropped) for redactText/createRedactor. */
export function compileSecrets(secrets: readonly string[]): SecretMatcher {
  const matcher = new LiveMatcher();
  for (const secret of new Set(secrets)) matcher.add(secret);
  return matcher;
}

/** Accepts secrets or an already compiled matcher. */
function asMatcher(secrets: readonly string[] | SecretMatcher): SecretMatcher {
  return Array.isArray(secrets) ? compileSecrets(secrets as readonly string[]) : (secrets as SecretMatcher);
}

/**
 * A 30-bit hash of s[start, start + length) (no string is made). 30 bits: a small integer to
 * V8 (31-bit Smis), so a Map keyed by it holds no boxed number per window.
 */
export function windowHash(s: string, start: number, length: number): number {
  let h = 0;
  for (let k = start; k < start + length; k++) h = (Math.imul(h, 31) + s.charCodeAt(k)) | 0;
  return h & 0x3fffffff;
}

// Most windows of ordinary text consist of characters tokens have too (letters, digits), so
// the character test passes over few; slicing each window out to look it up made a string
// per position: ~13,600 of them (~425 KB) for one status answer at N = 200, garbage for the
// young generation on every poll. A window is sliced only when its hash is a window's hash
// (LiveMatcher.has).
/** Marks every character of `s` covered by a window that occurs inside a secret, in `marks` (made at the first mark when not given; undefined when none). */
function markPieces(s: string, m: SecretMatcher, marks?: Uint8Array): Uint8Array | undefined {
  for (const length of m.lengths) {
    let i = 0;
    while (i + length <= s.length) {
      // A window ending in a character no secret has cannot match, nor can any window
      // containing that character: skip past it.
      if (!m.chars.has(s[i + length - 1]!)) {
        i += length;
        continue;
      }
      if (m.has(s, i, length)) (marks ??= new Uint8Array(s.length)).fill(1, i, i + length);
      i++;
    }
  }
  return marks;
}

/** Start of the tail of `s` that a later chunk could still turn into a piece (s.length when none). */
function heldFrom(s: string, m: SecretMatcher): number {
  for (let k = Math.max(0, s.length - m.maxLength + 1); k < s.length; k++) {
    if (m.prefixes.has(s.slice(k))) return k;
  }
  return s.length;
}

/** Writes s[0, end) with each marked run replaced by REDACTED; `inRun` says the text before was a marked run. */
function render(s: string, marks: Uint8Array, end: number, inRun: boolean): string {
  let out = '';
  let plainStart = -1;
  for (let i = 0; i < end; i++) {
    if (marks[i]) {
      if (plainStart >= 0) {
        out += s.slice(plainStart, i);
        plainStart = -1;
      }
      if (!inRun) out += REDACTED;
      inRun = true;
    } else {
      if (plainStart < 0) plainStart = i;
      inRun = false;
    }
  }
  if (plainStart >= 0) out += s.slice(plainStart, end);
  return out;
}

/** Redacts every secret and every piece of MIN_PIECE+ characters of one in a complete text. */
export function redactText(text: string, secrets: readonly string[] | SecretMatcher): string {
  const m = asMatcher(secrets);
  if (m.maxLength === 0 || text.length === 0) return text;
  const marks = markPieces(text, m);
  return marks ? render(text, marks, text.length, false) : text;
}

// A piece may be cut anywhere between two chunks. Characters that no later chunk can pull
// into a piece are final and written at once; only a tail that is the beginning of a
// piece is held back (at most MIN_PIECE - 1 characters), so a quiet gateway's last line is
// not stuck: a line break, for one, is in no token.
/** Creates a streaming redactor for `secrets`. */
export function createRedactor(secrets: readonly string[] | SecretMatcher): Redactor {
  const m = asMatcher(secrets);
  let held = '';
  let heldMarks = new Uint8Array(0);
  let inRun = false;
  const flush = (s: string, marks: Uint8Array, cut: number): string => {
    const out = render(s, marks, cut, inRun);
    if (cut > 0) inRun = marks[cut - 1] === 1;
    held = s.slice(cut);
    heldMarks = marks.slice(cut);
    return out;
  };
  return {
    push(text) {
      if (m.maxLength === 0) return text;
      const s = held + text;
      const marks = new Uint8Array(s.length);
      marks.set(heldMarks);
      markPieces(s, m, marks);
      return flush(s, marks, heldFrom(s, m));
    },
    end() {
      const out = flush(held, heldMarks, held.length);
      inRun = false;
      return out;
    },
  };
}

/** JSON.stringify with every string value redacted (for answers and log lines built from objects). */
export function stringifyRedacted(value: unknown, secrets: readonly string[] | SecretMatcher): string {
  const m = asMatcher(secrets);
  if (m.maxLength === 0) return JSON.stringify(value);
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? redactText(v, m) : v));
}

// fleetd's own log and its answers redact with every agent's secrets, and agents are added
// one by one (a first start provisions 200 tokens, logging as it goes): compiling the whole
// list again for each new secret cost O(N^2) (202 compiles, 254 ms of a start all at N =
// 200). The live matcher below adds and removes one secret's windows, counted per secret
// that holds them, so a change costs what the changed secrets hold.
//
// It keeps no window as a string: only a count per window HASH, and the secrets. Each window
// kept as a string in a Set, plus its count in a Map and its hash in a Set and a Map, cost
// ~1.8 MB of heap per matcher at 200 agents (~16,000 windows: four hash tables of 320-450 KB
// and ~16,000 strings), and fleetd holds two (its log, its answers): 3.6 MB of the ~12 MB
// its heap grew from 0 to 200 agents. One table of hash counts (HashCounts) is ~260 KB. A hash that
// matches is confirmed against the secrets themselves (rare: only text that holds a piece
// of a secret, or a 1-in-2^30 collision).
/**
 * A multiset of 30-bit hashes: how many times each was added (open addressing with linear
 * probing in two typed arrays, at most half full: 8 bytes a slot, ~16 per hash held, where a
 * Map of small integers takes ~28 and doubles at a power of two: 16,400 windows, 200 agents'
 * 48-character tokens, took a 32,768-entry Map, ~920 KB).
 */
class HashCounts {
  /** hash + 1 in each used slot, 0 in a free one. */
  private keys = new Int32Array(16);
  private counts = new Uint32Array(16);
  private shift = 28; // 32 - log2(slots)
  private used = 0;

  /** Home slot of `hash` (multiplicative: the high bits of hash * golden ratio). */
  private home(hash: number): number {
    return Math.imul(hash, 0x9e3779b1) >>> this.shift;
  }

  /** Slot holding `hash`, or -1. */
  private find(hash: number): number {
    const mask = this.keys.length - 1;
    for (let i = this.home(hash); ; i = (i + 1) & mask) {
      const key = this.keys[i]!;
      if (key === hash + 1) return i;
      if (key === 0) return -1;
    }
  }

  /** Whether `hash` is held (added more often than removed). */
  has(hash: number): boolean {
    return this.find(hash) >= 0;
  }

  /** Counts `hash` up by one. */
  add(hash: number): void {
    const at = this.find(hash);
    if (at >= 0) return void this.counts[at]!++;
    if ((this.used + 1) * 2 > this.keys.length) this.resize(this.keys.length * 2);
    const mask = this.keys.length - 1;
    let i = this.home(hash);
    while (this.keys[i] !== 0) i = (i + 1) & mask;
    this.keys[i] = hash + 1;
    this.counts[i] = 1;
    this.used++;
  }

  /** Counts `hash` down by one (a hash not held: nothing happens). */
  remove(hash: number): void {
    let i = this.find(hash);
    if (i < 0) return;
    if (--this.counts[i]! > 0) return;
    // Backward-shift deletion: move up every later entry of the run whose home is not in (i, j].
    const mask = this.keys.length - 1;
    this.keys[i] = 0;
    for (let j = (i + 1) & mask; this.keys[j] !== 0; j = (j + 1) & mask) {
      const home = this.home(this.keys[j]! - 1);
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      this.keys[i] = this.keys[j]!;
      this.counts[i] = this.counts[j]!;
      this.keys[j] = 0;
      i = j;
    }
    this.used--;
    if (this.keys.length > 16 && this.used * 8 < this.keys.length) this.resize(this.keys.length / 2);
  }

  private resize(slots: number): void {
    const { keys, counts } = this;
    this.keys = new Int32Array(slots);
    this.counts = new Uint32Array(slots);
    this.shift = 32 - Math.log2(slots);
    const mask = slots - 1;
    for (let k = 0; k < keys.length; k++) {
      if (keys[k] === 0) continue;
      let i = this.home(keys[k]! - 1);
      while (this.keys[i] !== 0) i = (i + 1) & mask;
      this.keys[i] = keys[k]!;
      this.counts[i] = counts[k]!;
    }
  }
}

/** A SecretMatcher kept up to date in place as secrets are added and removed (compileSecrets', cachedMatcher's). */
class LiveMatcher implements SecretMatcher {
  lengths: number[] = [];
  readonly chars = new Set<string>();
  maxLength = 0;
  version = 0;
  /** By window length: how many windows of the held secrets (of that length class) have each hash. */
  private readonly hashRefs = new Map<number, HashCounts>();
  /** By window length: the held secrets whose windows have that length (min(MIN_PIECE, secret length)). */
  private readonly secrets = new Map<number, Set<string>>();
  private readonly charRefs = new Map<string, number>();
  /** Held secrets and how many times each was added (a secret is matched while its count is above 0). */
  private readonly held = new Map<string, number>();
  private prefixCache: Set<string> | null = null;
  /** The secret that confirmed the last match (the next window of a secret in text is most likely in it too). */
  private lastHit = '';

  has(s: string, start: number, length: number): boolean {
    const refs = this.hashRefs.get(length);
    if (refs === undefined || !refs.has(windowHash(s, start, length))) return false;
    const window = s.slice(start, start + length);
    if (this.lastHit.length >= length && this.lastHit.includes(window) && this.secrets.get(length)!.has(this.lastHit)) return true;
    for (const secret of this.secrets.get(length)!) {
      if (secret.includes(window)) {
        this.lastHit = secret;
        return true;
      }
    }
    return false;
  }

  get prefixes(): ReadonlySet<string> {
    if (this.prefixCache === null) {
      this.prefixCache = new Set();
      for (const [length, secrets] of this.secrets) {
        for (const secret of secrets) {
          for (let i = 0; i + length <= secret.length; i++) for (let p = 1; p < length; p++) this.prefixCache.add(secret.slice(i, i + p));
        }
      }
    }
    return this.prefixCache;
  }

  /** Adds one secret (too short or not a string: ignored). */
  add(secret: string): void {
    if (typeof secret !== 'string' || secret.length < MIN_SECRET) return;
    const count = this.held.get(secret) ?? 0;
    this.held.set(secret, count + 1);
    if (count === 0) this.count(secret, 1);
  }

  /** Removes one secret added before. */
  remove(secret: string): void {
    const count = this.held.get(secret);
    if (count === undefined) return;
    if (count > 1) return void this.held.set(secret, count - 1);
    this.held.delete(secret);
    this.count(secret, -1);
  }

  /** Counts the windows and characters of `secret` up or down by one. */
  private count(secret: string, delta: 1 | -1): void {
    const length = Math.min(MIN_PIECE, secret.length);
    let refs = this.hashRefs.get(length);
    let secrets = this.secrets.get(length);
    if (!refs || !secrets) {
      this.hashRefs.set(length, (refs = new HashCounts()));
      this.secrets.set(length, (secrets = new Set()));
    }
    if (delta === 1) secrets.add(secret);
    else secrets.delete(secret);
    if (this.lastHit === secret) this.lastHit = '';
    for (let i = 0; i + length <= secret.length; i++) {
      const hash = windowHash(secret, i, length);
      if (delta === 1) refs.add(hash);
      else refs.remove(hash);
    }
    if (secrets.size === 0) {
      this.hashRefs.delete(length);
      this.secrets.delete(length);
    }
    for (const ch of new Set(secret)) {
      const n = (this.charRefs.get(ch) ?? 0) + delta;
      if (n > 0) this.charRefs.set(ch, n);
      else this.charRefs.delete(ch);
      if (n === 1 && delta === 1) this.chars.add(ch);
      if (n === 0) this.chars.delete(ch);
    }
    this.lengths = [...this.hashRefs.keys()].sort((a, b) => b - a);
    this.maxLength = this.lengths[0] ?? 0;
    this.prefixCache = null;
    this.version += 1;
  }
}

/**
 * A matcher over a secret list that changes (agents come and go): one matcher, updated in
 * place with the secrets added and removed since the last call (see LiveMatcher), so a
 * matcher held across calls sees later secrets too. `expand` gives the forms each secret is
 * matched in (default: itself), asked once per secret while it stays in the list. The list
 * is compared by identity first (a source that returns the same array until it changes
 * costs nothing per call), then by content.
 */
export function cachedMatcher(secrets: () => readonly string[], expand: (secret: string) => readonly string[] = (secret) => [secret]): () => SecretMatcher {
  const matcher = new LiveMatcher();
  let list: readonly string[] = [];
  let key = '';
  /** The forms each secret of the list added (what to remove when it goes). */
  let forms = new Map<string, readonly string[]>();
  return () => {
    const next = secrets();
    if (next === list) return matcher;
    list = next;
    const nextKey = next.join('\u0000');
    if (nextKey === key) return matcher;
    key = nextKey;
    const nextForms = new Map<string, readonly string[]>();
    for (const secret of next) {
      if (nextForms.has(secret)) continue;
      let kept = forms.get(secret);
      if (kept === undefined) {
        kept = [...new Set(expand(secret))];
        for (const form of kept) matcher.add(form);
      }
      nextForms.set(secret, kept);
    }
    for (const [secret, gone] of forms) if (!nextForms.has(secret)) for (const form of gone) matcher.remove(form);
    forms = nextForms;
    return matcher;
  };
}
