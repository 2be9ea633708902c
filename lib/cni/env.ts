// The CNI_* environment, parsed and validated once. Every message names the variable, so a
// runtime's log says which input was wrong. Namespace checks (is it a netns, is it ours) live
// with the plugin because they touch the file system.
import { CniError, ErrorCode } from './errors.js';
import { printable } from './text.js';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'] as const;
export type CniCommand = (typeof COMMANDS)[number];

export interface CniEnv {
  command: CniCommand;
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** CNI_ARGS as key/value pairs, in order */
  args: Map<string, string>;
  path: string[];
}

// Spec: must start with an alphanumeric character, then alphanumerics, '_', '.', '-'. This
// also makes the ID safe to embed in file contents and link-name hashes.
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function invalid(msg: string): never {
  throw new CniError(ErrorCode.InvalidEnv, msg);
}

export function validateContainerId(id: string, field = 'CNI_CONTAINERID'): string {
  if (!id) invalid(`${field} is empty`);
  if (!CONTAINER_ID.test(id)) invalid(`${field}="${printable(id)}" must match [A-Za-z0-9][A-Za-z0-9_.-]*`);
  return id;
}

/** Linux interface name rules as the spec states them (IFNAMSIZ 16 with the NUL). */
export function validateIfname(name: string, field = 'CNI_IFNAME'): string {
  if (!name) invalid(`${field} is empty`);
  if (name.length > 15) invalid(`${field}="${printable(name)}" is longer than 15 characters`);
  if (name === '.' || name === '..') invalid(`${field}="${name}" is not a valid interface name`);
  if (/[/:\s]/.test(name)) invalid(`${field}="${printable(name)}" must not contain '/', ':' or whitespace`);
  return name;
}

/** "K1=V1;K2=V2" (spec: alphanumeric key/value pairs separated by semicolons). */
export function parseCniArgs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) invalid(`CNI_ARGS: "${printable(part)}" is not KEY=VALUE`);
    out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

export function parseCniEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND;
  if (!command) invalid('CNI_COMMAND is not set');
  if (!(COMMANDS as readonly string[]).includes(command)) invalid(`CNI_COMMAND="${printable(command)}" is not one of ${COMMANDS.join(', ')}`);
  const cmd = command as CniCommand;
  const out: CniEnv = {
    command: cmd,
    args: parseCniArgs(env.CNI_ARGS ?? ''),
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
  };
  if (cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK') {
    if (env.CNI_CONTAINERID === undefined) invalid('CNI_CONTAINERID is not set');
    out.containerId = validateContainerId(env.CNI_CONTAINERID);
    if (env.CNI_IFNAME === undefined) invalid('CNI_IFNAME is not set');
    out.ifname = validateIfname(env.CNI_IFNAME);
    // DEL must work after the namespace is gone, so an empty or missing CNI_NETNS is fine there.
    if (cmd !== 'DEL' && !env.CNI_NETNS) invalid('CNI_NETNS is not set');
    if (env.CNI_NETNS) out.netns = env.CNI_NETNS;
  }
  return out;
}
