// JSON-lines logs on stderr: one object per line, so a node's log shipper can parse them
// without guessing at formats. Fields are passed as an object, never interpolated.
// The Logger type is lib's port (lib/log.ts), so lib/ code logs through the same thing.
import type { LogFields, Logger } from '../lib/log.js';

export type { LogFields, Logger };
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export type LogSink = (line: string) => void;

export function createLogger(level: LogLevel, sink: LogSink = (l) => process.stderr.write(l + '\n'), base: LogFields = {}): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(lvl) < min) return;
    sink(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...base, ...normalise(fields) }));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    with: (f) => createLogger(level, sink, { ...base, ...f }),
  };
}

/** Errors do not survive JSON.stringify; keep their message (and command details). */
function normalise(fields?: LogFields): LogFields {
  if (!fields) return {};
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? v.message : v;
  return out;
}
