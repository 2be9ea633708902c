// Durations on the command line: "500ms", "90s", "15m", "24h". A bare number keeps the unit
// flannel gave that flag (minutes for --subnet-lease-renew-margin), so flannel's flags work.
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(text: string | number, bareUnit: 'ms' | 's' | 'm' | 'h', flag: string): number {
  const s = String(text).trim();
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s);
  if (!m) throw new Error(`--${flag}: "${s}" is not a duration (use e.g. 500ms, 30s, 15m, 24h)`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? bareUnit]);
}
