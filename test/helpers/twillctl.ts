// Runs the built twillctl the way an operator's shell does: argv, optional stdin, optional
// network namespace (nsenter), and a clean environment unless the test adds to it.
import { TWILLCTL_BIN } from '../../harness/cni.js';
import { DEFAULT_PATH, Outcome, runBinary } from '../../harness/spawn.js';

export type CtlOutcome = Outcome;

export interface CtlRunOptions {
  input?: string;
  env?: Record<string, string>;
  /** namespace name (under /var/run/netns) to run in */
  netns?: string;
}

export function runCtl(args: readonly string[], o: CtlRunOptions = {}): Promise<CtlOutcome> {
  return runBinary(TWILLCTL_BIN, args, { env: { PATH: DEFAULT_PATH, ...o.env }, input: o.input, netns: o.netns });
}

/** twillctl pointed at one etcd endpoint. */
export function ctlAt(endpoint: string, prefix?: string) {
  const base = ['--etcd-endpoints', endpoint, ...(prefix ? ['--etcd-prefix', prefix] : [])];
  return (args: readonly string[], o: CtlRunOptions = {}) => runCtl([...args, ...base], o);
}
