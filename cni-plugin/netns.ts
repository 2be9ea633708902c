// CNI_NETNS must name a network namespace other than the one the plugin runs in: plumbing a
// "pod" into the host namespace would move the node's own interfaces around.
import { CniError, ErrorCode } from '../lib/cni/errors.js';
import { isNetnsFile, isOwnNetns } from '../lib/kernel/ns.js';

export function requirePodNetns(netns: string | undefined): string {
  if (!netns) throw new CniError(ErrorCode.InvalidEnv, 'CNI_NETNS is not set');
  if (!netns.startsWith('/')) throw new CniError(ErrorCode.InvalidEnv, `CNI_NETNS="${netns}" must be an absolute path`);
  if (!isNetnsFile(netns)) throw new CniError(ErrorCode.InvalidEnv, `CNI_NETNS=${netns} is not a network namespace`);
  if (isOwnNetns(netns)) {
    throw new CniError(ErrorCode.InvalidEnv, `CNI_NETNS=${netns} is the plugin's own (host) network namespace`);
  }
  return netns;
}

/** DEL: the namespace may be gone (fine), but must not be the host's own. */
export function checkDelNetns(netns: string | undefined): void {
  if (!netns || !isNetnsFile(netns)) return;
  if (isOwnNetns(netns)) {
    throw new CniError(ErrorCode.InvalidEnv, `CNI_NETNS=${netns} is the plugin's own (host) network namespace`);
  }
}
