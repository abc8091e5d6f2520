import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cachedMatcher, compileSecrets, createRedactor, MIN_PIECE, REDACTED, redactText, stringifyRedacted } from './redact.js';
import { prng } from '../../test/support/prng.js';

const TOKEN = '0123456789abcdef0123456789abcdeffedcba9876543210fedcba9876543210';
const HOOKS = 'Zq8v_Kp2-Lm4Ns6Tx0Yb3Wc5';

/** Feeds `parts` through one redactor and returns everything it let out. */
function stream(parts: string[], secrets: string[] = [TOKEN]): string {
  const r = createRedactor(secrets);
  return parts.map((p) => r.push(p)).join('') + r.end();
}

/** Cuts `text` into chunks at random places (empty chunks included). */
function randomCuts(text: string, random: () => number): string[] {
  const parts: string[] = [];
  let at = 0;
  while (at < text.length) {
    const len = Math.floor(random() * 12);
    parts.push(text.slice(at, at + len));
    at += len;
  }
  return parts;
}

/** Independent check: the runs of output text between markers hold no MIN_PIECE window of a secret. */
function leakedPieces(output: string, secrets: string[]): string[] {
  const leaks: string[] = [];
  for (const plain of output.split(REDACTED)) {
    for (let i = 0; i + MIN_PIECE <= plain.length; i++) {
      const window = plain.slice(i, i + MIN_PIECE);
      if (secrets.some((s) => s.includes(window))) leaks.push(window);
    }
  }
  return leaks;
}

describe('redactText', () => {
  test('a whole secret, a piece of exactly 8 characters and longer pieces are redacted; 7 are not', () => {
    assert.equal(redactText(`token ${TOKEN} end`, [TOKEN]), `token ${REDACTED} end`);
    assert.equal(redactText(`a ${TOKEN.slice(20, 28)} b`, [TOKEN]), `a ${REDACTED} b`);
    assert.equal(redactText(`a ${TOKEN.slice(3, 50)} b`, [TOKEN]), `a ${REDACTED} b`);
    assert.equal(redactText(`a ${TOKEN.slice(20, 27)} b`, [TOKEN]), `a ${TOKEN.slice(20, 27)} b`);
  });

  test('the issue case: first 10 characters, an unrelated line, then the other 54', () => {
    const text = `split ${TOKEN.slice(0, 10)}\nunrelated line\n${TOKEN.slice(10)} end\n`;
    assert.equal(redactText(text, [TOKEN]), `split ${REDACTED}\nunrelated line\n${REDACTED} end\n`);
  });

  test('several secrets; a short one (4-7 characters) only whole; one under 4 characters is ignored', () => {
    const secrets = [TOKEN, HOOKS, 's3cr7', 'ab'];
    const text = `x ${HOOKS.slice(5, 15)} y s3cr7 z s3cr ab ${TOKEN.slice(0, 9)}`;
    assert.equal(redactText(text, secrets), `x ${REDACTED} y ${REDACTED} z s3cr ab ${REDACTED}`);
  });

  test('adjacent pieces and repeats collapse into one marker per run', () => {
    assert.equal(redactText(`${TOKEN}${TOKEN} and ${TOKEN}`, [TOKEN]), `${REDACTED} and ${REDACTED}`);
  });

  test('no secrets, empty and too-short secrets: text untouched', () => {
    assert.equal(redactText('hello world', []), 'hello world');
    assert.equal(redactText('hello world', ['', 'lo'].filter(Boolean)), 'hello world');
    assert.equal(compileSecrets(['', 'abc']).maxLength, 0);
  });

  test('property: random mixes of secret pieces and noise leak no piece', () => {
    const random = prng(42);
    const secrets = [TOKEN, HOOKS];
    for (let round = 0; round < 300; round++) {
      let text = '';
      while (text.length < 200) {
        const secret = secrets[Math.floor(random() * secrets.length)]!;
        const from = Math.floor(random() * secret.length);
        const to = from + Math.floor(random() * (secret.length - from + 1));
        text += random() < 0.5 ? secret.slice(from, to) : ' noise-0a1b\n'.slice(0, 1 + Math.floor(random() * 12));
      }
      const out = redactText(text, secrets);
      assert.deepEqual(leakedPieces(out, secrets), [], `round ${round}: ${JSON.stringify(text)}`);
    }
  });
});

describe('createRedactor (streaming)', () => {
  test('a token cut at every position between two chunks is redacted', () => {
    const text = `before ${TOKEN} after\n`;
    for (let cut = 0; cut <= text.length; cut++) {
      assert.equal(stream([text.slice(0, cut), text.slice(cut)]), `before ${REDACTED} after\n`, `cut at ${cut}`);
    }
  });

  test('any chunking gives exactly what one-shot redaction gives (issue case, random cuts)', () => {
    const random = prng(7);
    const texts = [
      `split ${TOKEN.slice(0, 10)}\nunrelated line\n${TOKEN.slice(10)} end\n`,
      `${TOKEN.slice(0, 7)}|${TOKEN.slice(7, 15)}|${TOKEN.slice(15, 22)}|${HOOKS}\n`,
      `no secret here at all, only text 0123 abc\n`,
    ];
    for (const text of texts) {
      const expected = redactText(text, [TOKEN, HOOKS]);
      for (let round = 0; round < 200; round++) {
        const parts = randomCuts(text, random);
        assert.equal(stream(parts, [TOKEN, HOOKS]), expected, JSON.stringify(parts));
      }
    }
  });

  test('stdout and stderr interleaved: each stream redacted on its own, nothing rebuilds the token', () => {
    const out = createRedactor([TOKEN]);
    const err = createRedactor([TOKEN]);
    const file = [
      out.push(`split ${TOKEN.slice(0, 10)}`),
      err.push('unrelated line on stderr\n'),
      out.push(`${TOKEN.slice(10, 13)}`),
      err.push(`${TOKEN.slice(40, 46)}`),
      out.push(`${TOKEN.slice(13)} end\n`),
      err.push(`${TOKEN.slice(46, 60)}\n`),
      out.end(),
      err.end(),
    ].join('');
    assert.deepEqual(leakedPieces(file, [TOKEN]), []);
    assert.ok(file.includes('unrelated line on stderr\n'));
  });

  test('only a tail that could still become a piece is held back; a line break never is', () => {
    const r = createRedactor([TOKEN]);
    assert.equal(r.push('listening on 1234\n'), 'listening on 1234\n');
    assert.equal(r.push('id 0123'), 'id ', 'a possible piece start is held');
    assert.equal(r.push('xyz\n'), '0123xyz\n', 'released once it cannot be a piece');
    assert.equal(r.push(`k ${TOKEN.slice(0, 30)}`).length <= `k ${REDACTED}`.length, true);
    assert.equal(r.end(), '', 'the held rest of a redacted run adds no second marker');
  });

  test('a stream ending inside a secret: a piece of 8+ is redacted, a shorter tail is not a secret', () => {
    assert.equal(stream(['key: ', TOKEN.slice(0, 40)]), `key: ${REDACTED}`);
    assert.equal(stream(['key: ', TOKEN.slice(0, 8)]), `key: ${REDACTED}`);
    assert.equal(stream(['ends with 0123456']), 'ends with 0123456');
  });

  test('no secrets: everything passes through at once', () => {
    const r = createRedactor([]);
    assert.equal(r.push('a'), 'a');
    assert.equal(r.end(), '');
  });
});

describe('stringifyRedacted', () => {
  test('every string value of an answer is redacted; the shape stays JSON', () => {
    const text = stringifyRedacted({ reason: `exited: bad token ${TOKEN.slice(5, 30)}`, list: [TOKEN], n: 3 }, [TOKEN]);
    assert.deepEqual(JSON.parse(text), { reason: `exited: bad token ${REDACTED}`, list: [REDACTED], n: 3 });
  });
});

describe('what redaction allocates', () => {
  test('a matcher keeps no string per window of its secrets: adding 200 secrets slices none out', () => {
    const secrets = Array.from({ length: 200 }, (_, i) => `tok-${String(i).padStart(3, '0')}-${TOKEN.slice(0, 40)}`);
    let list: string[] = [];
    const matcher = cachedMatcher(() => list);
    const slice = String.prototype.slice;
    let slices = 0;
    String.prototype.slice = function (this: string, ...args: Parameters<typeof slice>) {
      slices++;
      return slice.apply(this, args);
    };
    try {
      for (const secret of secrets) {
        list = [...list, secret];
        matcher();
      }
      compileSecrets(secrets);
    } finally {
      String.prototype.slice = slice;
    }
    assert.equal(slices, 0, 'no window string made (one per window of each secret was, ~16,000 at 200 agents)');
    assert.equal(redactText(`x ${secrets[150]!.slice(2, 12)} y`, matcher()), `x ${REDACTED} y`, 'a piece is still caught');
  });

  test('a window whose hash is a secret window\'s hash but whose text is not is left alone', () => {
    // "Aa" and "BB" hash alike (31 * 65 + 97 = 31 * 66 + 66): so do these two windows
    const secret = 'zzzzzzAa-rest-of-the-secret';
    const matcher = compileSecrets([secret]);
    assert.equal(redactText('look: zzzzzzBB', matcher), 'look: zzzzzzBB');
    assert.equal(redactText('look: zzzzzzAa', matcher), `look: ${REDACTED}`);
  });

  test('a text with no piece of a secret is scanned without slicing windows out of it', () => {
    const secrets = Array.from({ length: 400 }, (_, i) => `${TOKEN.slice(i % 40, (i % 40) + 20)}${HOOKS}${i}`);
    const matcher = compileSecrets(secrets);
    const text = Array.from({ length: 200 }, (_, i) => `agent c${i} started after 35 ms: pid ${4000 + i} listens on port ${10000 + i}; home /tmp/state/fleets/bench/c${i}`).join('\n');
    const slice = String.prototype.slice;
    let slices = 0;
    String.prototype.slice = function (this: string, ...args: Parameters<typeof slice>) {
      slices++;
      return slice.apply(this, args);
    };
    let out: string;
    try {
      out = redactText(text, matcher);
    } finally {
      String.prototype.slice = slice;
    }
    assert.equal(out, text);
    assert.equal(slices, 0, 'no window string made (one per position was)');
    assert.equal(redactText(`x ${secrets[7]!.slice(3, 14)} y`, matcher), `x ${REDACTED} y`, 'a piece is still caught');
  });
});

describe('cachedMatcher', () => {
  test('follows a changing secret list, compiling only when it changes', () => {
    let list = [TOKEN];
    const matcher = cachedMatcher(() => list);
    const first = matcher();
    assert.equal(matcher(), first, 'same list: same compiled matcher');
    assert.equal(redactText(`a ${HOOKS}`, matcher()), `a ${HOOKS}`);
    list = [TOKEN, HOOKS];
    assert.equal(redactText(`a ${HOOKS}`, matcher()), `a ${REDACTED}`, 'a new agent\'s secret is caught at once');
  });

  test('secrets added one by one are each expanded once, not the whole list again per addition', () => {
    const secrets = Array.from({ length: 200 }, (_, i) => `tok-${String(i).padStart(3, '0')}-${TOKEN.slice(0, 30)}`);
    const expanded: string[] = [];
    let list: string[] = [];
    const matcher = cachedMatcher(
      () => list,
      (secret) => (expanded.push(secret), [secret, secret.toUpperCase()]),
    );
    for (const secret of secrets) {
      list = [...list, secret];
      assert.equal(redactText(`x ${secret.toUpperCase()} y`, matcher()), `x ${REDACTED} y`);
    }
    assert.deepEqual(expanded, secrets, 'each secret expanded once, when it came');
  });

  test('300 secrets added, then most removed in another order: the matcher holds exactly the rest', () => {
    const secrets = Array.from({ length: 300 }, (_, i) => `${String(i * 7919).padStart(6, '0')}-${TOKEN.slice(i % 20, (i % 20) + 24)}`);
    let list: string[] = [];
    const matcher = cachedMatcher(() => list);
    for (const secret of secrets) {
      list = [...list, secret];
      matcher();
    }
    for (const secret of secrets) assert.equal(redactText(`<${secret}>`, matcher()), `<${REDACTED}>`);
    // keep every seventh, remove the rest from the middle outwards
    const kept = secrets.filter((_, i) => i % 7 === 0);
    const order = [...secrets.keys()].sort((a, b) => Math.abs(a - 150) - Math.abs(b - 150));
    for (const i of order) {
      if (i % 7 === 0) continue;
      list = list.filter((secret) => secret !== secrets[i]);
      matcher();
    }
    for (const secret of kept) assert.equal(redactText(`<${secret}>`, matcher()), `<${REDACTED}>`, secret);
    // what only removed secrets held is plain text again (their first 8 characters: digits and a dash, in no kept secret)
    for (const [i, secret] of secrets.entries()) {
      const head = secret.slice(0, 8);
      if (i % 7 !== 0 && !kept.some((k) => k.includes(head))) assert.equal(redactText(`<${head}>`, matcher()), `<${head}>`, secret);
    }
  });

  test('the matcher follows additions and removals exactly as one compiled from the current list', () => {
    const shared = TOKEN.slice(0, 20);
    const pool = [TOKEN, HOOKS, `${shared}-other-agent`, 'short', 'abc', `${HOOKS}"\\`, TOKEN];
    let list: string[] = [];
    const matcher = cachedMatcher(() => list);
    // every window of every secret of the pool, and windows of none (a secret's pieces shifted by a character)
    const probes = [...new Set(pool.flatMap((secret) => [...secret].flatMap((_, i) => [secret.slice(i, i + MIN_PIECE), secret.slice(i, i + secret.length), `#${secret}`.slice(i, i + MIN_PIECE)])))];
    const same = (why: string) => {
      const live = matcher();
      const fresh = compileSecrets(list);
      const inList = (window: string, length: number) => list.some((secret) => secret.length >= 4 && Math.min(MIN_PIECE, secret.length) === length && secret.includes(window));
      assert.deepEqual(live.lengths, fresh.lengths, why);
      for (const length of fresh.lengths) {
        for (const probe of probes) {
          if (probe.length < length) continue;
          const text = `>${probe}<`;
          const want = inList(probe.slice(0, length), length);
          assert.equal(live.has(text, 1, length), want, `${why}: ${JSON.stringify(probe.slice(0, length))} (${length})`);
          assert.equal(fresh.has(text, 1, length), want, `${why}: ${JSON.stringify(probe.slice(0, length))} (${length}), compiled`);
        }
      }
      assert.deepEqual([...live.chars].sort(), [...fresh.chars].sort(), why);
      assert.equal(live.maxLength, fresh.maxLength, why);
      assert.deepEqual([...live.prefixes].sort(), [...fresh.prefixes].sort(), why);
    };
    // a fixed walk through adds and removes (pieces shared between secrets, duplicates, short ones)
    const steps = [[0], [0, 1], [0, 1, 2], [1, 2], [2], [2, 3, 4], [2, 5, 6], [5, 6], [6], [], [1, 1, 0], [0]];
    for (const step of steps) {
      list = step.map((i) => pool[i]!);
      same(`list ${JSON.stringify(step)}`);
    }
    // TOKEN's windows are gone once it left the list; the piece it shared stays while another holds it
    list = [`${shared}-other-agent`];
    assert.equal(redactText(`a ${TOKEN.slice(25)} b`, matcher()), `a ${TOKEN.slice(25)} b`);
    assert.equal(redactText(`a ${shared} b`, matcher()), `a ${REDACTED} b`);
  });
});
