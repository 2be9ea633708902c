// Text that goes into the plugin's error JSON: the runtime and the people reading its log
// must always be able to read it, whatever bytes the input carried.

/**
 * Lone surrogates become U+FFFD: JSON.stringify writes them as "\ud83d" escapes, which strict
 * JSON readers (jq 1.6) refuse, and a runtime must always be able to read our error.
 */
export function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** The first `max` code points (never half a surrogate pair), with "..." when cut. */
export function cutCodePoints(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = 0;
  for (let n = 0; n < max && end < s.length; n++) end += s.codePointAt(end)! > 0xffff ? 2 : 1;
  return end >= s.length ? s : s.slice(0, end) + '...';
}
