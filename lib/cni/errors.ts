// CNI errors as the spec defines them: a numeric code, a short message and details, printed
// as JSON on stdout with exit status 1. Codes 1-99 are reserved by the spec; twill's own
// conditions (address taken, range full) use 100+ so a runtime can still tell them apart.
import { cutCodePoints, wellFormed } from './text.js';

export const ErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnv: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  PluginNotAvailableLimited: 51,
  // twill-specific
  AddressInUse: 100,
  AddressRangeFull: 101,
  /** a second ADD for an attachment that exists (the spec requires a DEL in between) */
  AlreadyAttached: 102,
  Internal: 999,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details = '',
  ) {
    super(msg);
    this.name = 'CniError';
  }

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    // well-formed text only: a lone surrogate from the input would make strict readers refuse the whole error
    return { cniVersion, code: this.code, msg: wellFormed(this.message), ...(this.details ? { details: wellFormed(this.details) } : {}) };
  }
}

/** Wraps any thrown value; a CniError keeps its code, anything else becomes `fallback`. */
export function toCniError(e: unknown, fallback: number = ErrorCode.Internal, context = ''): CniError {
  if (e instanceof CniError) return e;
  const text = e instanceof Error ? e.message : String(e);
  return new CniError(fallback, context ? `${context}: ${firstLine(text)}` : firstLine(text), text);
}

function firstLine(s: string): string {
  return cutCodePoints(s.trim().split('\n')[0] ?? '', 300);
}

