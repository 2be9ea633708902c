// The logger port: what lib/ code (the kube client's node watch) and the programs log
// through. Structured: a fixed message and fields, never an interpolated string, at a level
// the caller can filter on. twilld's implementation is daemon/log.ts (JSON lines on stderr);
// twillctl adapts it to its "warning: ..." lines. lib/ holds the type only, so it stays
// free of any program's output choices.
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (e.g. the component name). */
  with(fields: LogFields): Logger;
}
