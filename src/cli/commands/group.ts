// Helpers for commander: verb groups (`restart agent`, `restart fleet`) and option parsers.
import { Command, InvalidArgumentError } from 'commander';

/** Returns the verb command `name` under program, creating it the first time. */
export function groupCommand(program: Command, name: string, description: string): Command {
  const existing = program.commands.find((c) => c.name() === name);
  return existing ?? program.command(name).description(description);
}

/** Option collector for repeatable flags (`--set a=1 --set b=2`). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Parser of integer options within bounds; a bad value is a commander usage error (exit 2). */
export function intOption(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return n;
  };
}
