// Shared rendering of planned/applied actions (reload, add) as `start acme/korax: new agent`.
import type { z } from 'zod';
import type { actionSchema, ReconfigureOutcome } from '../../protocol/schemas.js';

/** One action as a line of text. */
export function formatAction(action: z.infer<typeof actionSchema>): string {
  return `${action.kind} ${action.address}${action.reason ? `: ${action.reason}` : ''}`;
}

/** The note printed when ports of the block were skipped because something else held them. */
export function skippedPortsNote(ports: readonly number[]): string | undefined {
  return ports.length ? `skipped ports already in use on this host: ${ports.join(', ')}` : undefined;
}

/** How a reconfigure ended, as an indented line (the reason says applied in place, or why it was restarted). */
export function formatReconfigured(outcome: ReconfigureOutcome): string {
  return outcome.result === 'skipped' ? `  ${outcome.address}: skipped (${outcome.reason})` : `  ${outcome.address}: ${outcome.reason}`;
}
