// In-process rtnetlink for short-lived callers (the CNI plugin): encode requests, send them
// through the twill_netlink addon, decode answers and errors. The daemon keeps `ip -batch`
// (lib/kernel/ip.ts), which programs thousands of peers in one process.
export * from './constants.js';
export * from './errors.js';
export * from './socket.js';
export * from './requests.js';
export * from './decode.js';
export * from './query.js';
export { netlinkAddon } from './addon.js';
