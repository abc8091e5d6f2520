// Names in a message, kept short: "a, b, c", or "a, b, c, d, e and 7 more".

/** `names` joined with commas, at most `max` of them and then how many more; `empty` when there are none. */
export function nameList(names: readonly string[], max = 5, empty = '(none)'): string {
  if (names.length === 0) return empty;
  return names.length > max ? `${names.slice(0, max).join(', ')} and ${names.length - max} more` : names.join(', ');
}
