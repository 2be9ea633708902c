// In-process rtnetlink, the one way into the kernel for the CNI plugin and the daemon: encode
// requests, send them through the twill_netlink addon (one at a time, or thousands per send),
// decode answers, errors and multicast events.
export * from './constants.js';
export * from './errors.js';
export * from './socket.js';
export * from './requests.js';
export * from './decode.js';
export * from './query.js';
export { netlinkAddon } from './addon.js';
export * from './events.js';
