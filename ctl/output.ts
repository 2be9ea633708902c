// Rendering of command results. json and yaml print the same documented object (the stable
// contract for scripts); table is for people and may change.
import { dump } from 'js-yaml';
import type { OutputFormat } from './options.js';

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
  return String(v);
}

export function renderData(format: 'json' | 'yaml', data: unknown): string {
  if (format === 'json') return JSON.stringify(data, null, 2) + '\n';
  return dump(data, { lineWidth: -1 } as never);
}

/** One event of a stream: a JSON line, a YAML document, or a table row. */
export function renderStreamItem(format: OutputFormat, data: unknown, tableLine: () => string): string {
  if (format === 'json') return JSON.stringify(data) + '\n';
  if (format === 'yaml') return '---\n' + dump(data, { lineWidth: -1 } as never);
  return tableLine() + '\n';
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
