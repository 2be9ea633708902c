// Text that goes into error messages (the plugin's error JSON, lease refusals): the runtime and
// the people reading its log must always be able to read it, whatever bytes the input carried.

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

/** Keeps control characters out of messages that end up in logs; cut at 80 code points. */
export function printable(s: string): string {
  const t = wellFormed(s).replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
  return cutCodePoints(t, 80);
}

/**
 * A short rendering of any input value for messages, without walking it: a config nested
 * thousands deep must give a message naming its field, not a stack overflow.
 */
export function describeInput(v: unknown, depth = 0): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(wellFormed(v.length > 200 ? v.slice(0, 200) : v));
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? String(v);
  if (depth >= 2) return Array.isArray(v) ? '[...]' : '{...}';
  if (Array.isArray(v)) {
    const items = v.slice(0, 4).map((x) => describeInput(x, depth + 1));
    return `[${items.join(',')}${v.length > 4 ? ',...' : ''}]`;
  }
  const keys = Object.keys(v);
  const items = keys.slice(0, 4).map((k) => `${describeInput(k.length > 40 ? k.slice(0, 40) : k)}:${describeInput((v as Record<string, unknown>)[k], depth + 1)}`);
  return `{${items.join(',')}${keys.length > 4 ? ',...' : ''}}`;
}
