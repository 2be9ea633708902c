// Synchronous reads of a namespace's links, addresses and routes over netlink: one socket,
// one dump each, no process. For CHECK, GC and the failure paths of ADD.
import {
  AF_INET, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RT_TABLE_MAIN,
} from './constants.js';
import { decodeAddr, decodeLink, decodeRoute, nameMasters, NlAddr, NlLink, NlRoute } from './decode.js';
import { ENODEV, NetlinkError } from './errors.js';
import { dumpAddrs, dumpLinks, dumpRoutes, getLink } from './requests.js';
import { NetlinkSocket, withSocket } from './socket.js';

export function dumpLinksOn(s: NetlinkSocket): NlLink[] {
  return nameMasters(s.dump(dumpLinks()).filter((m) => m.type === RTM_NEWLINK).map(decodeLink));
}

/** The link by name, or undefined when there is none (ENODEV). */
export function getLinkOn(s: NetlinkSocket, name: string): NlLink | undefined {
  try {
    const [msgs] = s.run([getLink(name)]);
    const m = msgs.find((x) => x.type === RTM_NEWLINK);
    return m ? decodeLink(m) : undefined;
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === ENODEV) return undefined;
    throw e;
  }
}

export function dumpAddrsOn(s: NetlinkSocket, family: number = AF_INET): NlAddr[] {
  return s.dump(dumpAddrs(family)).filter((m) => m.type === RTM_NEWADDR).map(decodeAddr);
}

/** Routes of one table (main by default), as `ip route show table main`. */
export function dumpRoutesOn(s: NetlinkSocket, family: number = AF_INET, table = RT_TABLE_MAIN): NlRoute[] {
  return s.dump(dumpRoutes(family)).filter((m) => m.type === RTM_NEWROUTE).map(decodeRoute).filter((r) => r.table === table);
}

export const nlListLinks = (netns?: string): NlLink[] => withSocket(netns, dumpLinksOn);
export const nlGetLink = (netns: string | undefined, name: string): NlLink | undefined => withSocket(netns, (s) => getLinkOn(s, name));
export const nlListAddrs = (netns?: string, family: number = AF_INET): NlAddr[] => withSocket(netns, (s) => dumpAddrsOn(s, family));
export const nlListRoutes = (netns?: string, family: number = AF_INET, table = RT_TABLE_MAIN): NlRoute[] =>
  withSocket(netns, (s) => dumpRoutesOn(s, family, table));
