// What a command hands back, and the single place that prints it: data for json/yaml, a
// table renderer for people, warnings to stderr, and the exit code.
import { renderData } from './output.js';
import type { Ctx } from './options.js';

export interface CommandResult {
  /** the documented JSON/YAML object */
  data: unknown;
  /** human output (table mode) */
  table: () => string;
  /** printed to stderr in every format ("warning: ..."); json/yaml carry them in data too */
  warnings?: string[];
  /** 1 when the command found a problem but still has output to show */
  exitCode?: 0 | 1;
  /** problems to print on stderr after the output (json/yaml carry them in data) */
  problems?: string[];
}

export function emit(ctx: Ctx, r: CommandResult): void {
  for (const w of r.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(ctx.output === 'table' ? r.table() : renderData(ctx.output, r.data));
  for (const p of r.problems ?? []) process.stderr.write(`error: ${p}\n`);
  if (r.exitCode) process.exitCode = r.exitCode;
}
