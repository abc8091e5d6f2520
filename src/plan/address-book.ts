// The address book of one agent (pure): for each agent it may call, and only those, where
// to reach it (loopback URL, its port), its hooks token, what it is for, and how to call it;
// plus the mailboxes it writes to and reads from. Rendered as JSON (for code) and a short
// Markdown file (for a skill to read). No timestamps: the same federation gives the same
// bytes, so a reload rewrites only books that really changed.
import type { FederationGraph } from './federation.js';
import { HOOKS_PATH } from './federation.js';
import type { RegistryFile } from './types.js';

/** Header carrying the hop count of a conversation between agents (a fleetd convention). */
export const DEPTH_HEADER = 'X-Fleet-Depth';

/** At this depth or more an agent answers but does not forward (stops loops A -> B -> A -> ...). */
export const MAX_FORWARD_DEPTH = 2;

/** Files of the address book in `<workspace>/.fleetd/federation/`. */
export const ADDRESS_BOOK_JSON = 'address-book.json';
/** Markdown companion of ADDRESS_BOOK_JSON. */
export const ADDRESS_BOOK_MD = 'address-book.md';

/** One agent the owner of the book may call. */
export interface AddressBookEntry {
  address: string;
  description: string | null;
  /** false while the callee is disabled in the manifest: use its mailbox. */
  enabled: boolean;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** POST here to ask it something (`{ "message": ... }`). */
  agentUrl: string;
  /** POST here to answer it back (`{ "text": ... }`), when it called you. */
  wakeUrl: string;
  /** Bearer token of its hooks (not its gateway token). */
  token: string;
  /** Folder to drop messages in when the hook call fails (you write, it reads). */
  mailbox: string;
}

/** address-book.json, format version 1. */
export interface AddressBook {
  version: 1;
  self: string;
  agents: AddressBookEntry[];
  /** Mailboxes others write to you: read new/, mark processed. */
  inbox: { from: string; mailbox: string }[];
  depth: { header: string; maxForwardDepth: number; rule: string };
}

/** Inputs of buildAddressBook. */
export interface AddressBookInput {
  graph: FederationGraph;
  registry: RegistryFile;
  address: string;
  /** Absolute path of a mailbox folder by name (mailboxPaths(stateDir, name).dir). */
  mailboxDir: (name: string) => string;
}

/** Result: the book, and callees left out because they have no port or hooks token yet. */
export interface BuiltAddressBook {
  book: AddressBook;
  missing: string[];
}

const DEPTH_RULE =
  `Send ${DEPTH_HEADER}: 1 on a call you start, and the depth you received plus 1 when you pass work on. ` +
  `At depth ${MAX_FORWARD_DEPTH} or more, do not forward: answer or drop it.`;

/** Builds the address book of `address` from the federation graph and the registry (ports, hooks tokens). */
export function buildAddressBook(input: AddressBookInput): BuiltAddressBook {
  const agents: AddressBookEntry[] = [];
  const missing: string[] = [];
  for (const edge of input.graph.edges.filter((e) => e.from === input.address)) {
    const entry = input.registry.agents[edge.to];
    const callee = input.graph.nodes[edge.to];
    if (!entry || !entry.hooksToken || !callee) {
      missing.push(edge.to);
      continue;
    }
    const url = `http://127.0.0.1:${entry.port}`;
    agents.push({
      address: edge.to,
      description: callee.description ?? null,
      enabled: callee.enabled,
      url,
      agentUrl: `${url}${HOOKS_PATH}/agent`,
      wakeUrl: `${url}${HOOKS_PATH}/wake`,
      token: entry.hooksToken,
      mailbox: input.mailboxDir(edge.mailbox),
    });
  }
  const inbox = input.graph.edges.filter((e) => e.to === input.address).map((e) => ({ from: e.from, mailbox: input.mailboxDir(e.mailbox) }));
  return {
    book: { version: 1, self: input.address, agents, inbox, depth: { header: DEPTH_HEADER, maxForwardDepth: MAX_FORWARD_DEPTH, rule: DEPTH_RULE } },
    missing,
  };
}

/** address-book.json text. */
export function renderAddressBookJson(book: AddressBook): string {
  return `${JSON.stringify(book, null, 2)}\n`;
}

/** address-book.md text: short, no tokens (they stay in the JSON next to it). */
export function renderAddressBookMarkdown(book: AddressBook): string {
  const lines = [
    `# Federation address book of ${book.self}`,
    '',
    'Written by openclaw-fleetd from the fleet manifest and rewritten on every reload: do not edit it.',
    `Tokens are in \`${ADDRESS_BOOK_JSON}\` next to this file (field \`token\` of each agent); never show, log or forward them.`,
    '',
    '## Agents you may call',
    '',
  ];
  if (book.agents.length === 0) lines.push('None.');
  for (const a of book.agents) {
    lines.push(`- **${a.address}**${a.description ? `: ${a.description}` : ''}${a.enabled ? '' : ' (disabled now: use its mailbox)'}`);
    lines.push(`  - ask: \`POST ${a.agentUrl}\` with \`{"message": "..."}\``);
    lines.push(`  - answer back: \`POST ${a.wakeUrl}\` with \`{"text": "..."}\``);
    lines.push(`  - mailbox: \`${a.mailbox}\``);
  }
  lines.push(
    '',
    '## How to call',
    '',
    '```sh',
    `TOKEN=$(jq -r '.agents[] | select(.address == "AGENT") | .token' ${ADDRESS_BOOK_JSON})`,
    `curl -sS -X POST URL${HOOKS_PATH}/agent -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\`,
    `  -H '${DEPTH_HEADER}: 1' -d '{"message": "[from ${book.self}, depth 1] your question"}'`,
    '```',
    '',
    `A 200 answer means accepted, not done. OpenClaw does not pass request headers to the agent, so put the depth in the message too. ${DEPTH_RULE}`,
    '',
    '## Mailboxes (when a call fails)',
    '',
    'Write `tmp/<ms>-<12 hex>.json` in the mailbox, then rename it into `new/`. A message is',
    '`{"id", "from", "to", "timestamp", "type": "ask"|"answer"|"note", "payload", "status": "new", "depth"}`.',
    'The receiver reads `new/` and marks a message processed by writing it with `"status": "processed"` and',
    '`processedAt` into `processed/`, then removing it from `new/`.',
  );
  if (book.inbox.length > 0) {
    lines.push('', 'Your inbox (read these):', '');
    for (const i of book.inbox) lines.push(`- from ${i.from}: \`${i.mailbox}/new\``);
  }
  return `${lines.join('\n')}\n`;
}
