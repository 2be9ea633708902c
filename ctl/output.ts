// Rendering of command results. json and yaml print the same documented object (the stable
// contract for scripts); table is for people and may change.
import { dump } from 'js-yaml';
import type { OutputFormat } from './options.js';
import type { LogFields, Logger } from '../lib/log.js';

export interface Column<R> {
  header: string;
  value: (row: R) => string | number | boolean | null | undefined;
}

/** Left-aligned columns separated by two spaces; empty values show as "-". */
export function renderTable<R>(rows: readonly R[], columns: readonly Column<R>[]): string {
  const cells = rows.map((r) => columns.map((c) => cellText(c.value(r))));
  const headers = columns.map((c) => c.header);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) => vals.map((v, i) => (i === vals.length - 1 ? v : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

/** "key: value" lines with aligned values, for single objects. */
export function renderPairs(pairs: readonly [string, string | number | boolean | null | undefined][]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${(k + ':').padEnd(w + 1)} ${cellText(v)}`).join('\n') + '\n';
}

function cellText(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined || v === '') return '-';
  return terminalSafe(String(v));
}

// Terminal controls (C0, DEL, C1: ESC and CSI start escape sequences that can rewrite the
// screen, set the title or worse) and the bidi overrides that reorder what is shown. Lease
// keys, values and reasons are written by whoever can write etcd or patch a Node.
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_IN_CELL = /[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Text for a terminal: every control character shown as \xNN / \uNNNN, newlines included. */
export function terminalSafe(s: string): string {
  return s.replace(UNSAFE_IN_CELL, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/** JSON whose strings carry the same characters as \u escapes: still the same JSON value. */
function jsonText(data: unknown, indent?: number): string {
  return JSON.stringify(data, null, indent).replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function renderData(format: 'json' | 'yaml', data: unknown): string {
  if (format === 'json') return jsonText(data, 2) + '\n';
  // js-yaml writes C0/C1 characters as escapes in double-quoted scalars; the bidi overrides
  // it considers printable: those show as U+FFFD.
  return dump(data, { lineWidth: -1, replacer: (_k: unknown, v: unknown) => (typeof v === 'string' ? v.replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '\ufffd') : v) } as never);
}

/** One event of a stream: a JSON line, a YAML document, or a table row. */
export function renderStreamItem(format: OutputFormat, data: unknown, tableLine: () => string): string {
  if (format === 'json') return jsonText(data) + '\n';
  if (format === 'yaml') return '---\n' + renderData('yaml', data);
  return terminalSafe(tableLine()) + '\n';
}

/** "1d2h", "3h04m", "59s": how long until an expiry, for tables. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return 'never';
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/**
 * The Logger that lib/ code (the kube node watch) gets from the CLI: warnings and errors as
 * "warning: <msg> (key=value, ...)" lines on stderr, so stdout stays the command's output;
 * debug and info are the daemon's business and are dropped.
 */
export const stderrWarnings: Logger = warningsTo((line) => process.stderr.write(line), {});

function warningsTo(write: (line: string) => void, base: LogFields): Logger {
  const warn = (msg: string, fields?: LogFields) => {
    const extra = Object.entries({ ...base, ...fields }).map(([k, v]) => `${k}=${v instanceof Error ? v.message : String(v)}`);
    write(`warning: ${terminalSafe(msg)}${extra.length ? ` (${terminalSafe(extra.join(', '))})` : ''}\n`);
  };
  return { debug: () => {}, info: () => {}, warn, error: warn, with: (f) => warningsTo(write, { ...base, ...f }) };
}
