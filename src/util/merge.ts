// Objects fleetd keeps for a long time, one (or a few) per agent, built from another object
// plus some fields. Written `{ ...base, extra }`, Node 20's V8 gives EACH such object a hidden
// class of its own: a spread at the start of a literal clones `base` with a fresh map, and
// every property added to that clone (in the literal or later) is a transition nobody shares.
// A private map and its descriptor array cost ~260-700 bytes per object (5 fields: ~264 B; a
// launch spec's 13: ~430 B; a status view's 24: ~670 B) beside the object itself. At 200
// agents that was ~520 KB of fleetd's heap (events, views, launch specs, OOM counters, per
// heap snapshot after idle). Object.assign onto a fresh `{}` walks the shared transition tree:
// every object with the same keys in the same order shares one map.
//
// Only for objects whose keys the code chooses: Object.assign SETS properties, so a key
// `__proto__` in a source (parsed from JSON) would set the prototype where a spread defines a
// property. Keys from input (an environment, a config) keep the spread.
/** A new object with the own enumerable properties of `a`, then `b` (as `{ ...a, ...b }`), sharing its hidden class with every object merged from the same keys. */
export function merge<A extends object, B extends object>(a: A, b: B): A & B;
/** As merge(a, b), with a third part. */
export function merge<A extends object, B extends object, C extends object>(a: A, b: B, c: C): A & B & C;
export function merge(...parts: object[]): object {
  return Object.assign({}, ...parts);
}
