// Kernel change notifications over rtnetlink multicast (what `ip monitor` prints, as typed
// messages): links, addresses, routes, neighbours, FDB entries and nexthop objects. The addon reads them on a
// thread of its own and hands each burst over; they are decoded here. Callers may use them
// only to react faster: when the kernel drops events (a full socket buffer) `onLost` says so,
// and a full look at the kernel is the answer.
import { netlinkAddon } from './addon.js';
import {
  NUD_PERMANENT, RT_TABLE_MAIN, RTM_DELADDR, RTM_DELLINK, RTM_DELNEIGH, RTM_DELNEXTHOP, RTM_DELROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH,
  RTM_NEWNEXTHOP, RTM_NEWROUTE,
} from './constants.js';
import { decodeAddr, decodeLink, decodeNeigh, decodeNexthop, decodeRoute, NlAddr, NlLink, NlNeigh, NlNexthop, NlRoute } from './decode.js';
import { parseMessages } from './wire.js';

export type KernelEvent =
  | { kind: 'link'; deleted: boolean; link: NlLink }
  | { kind: 'addr'; deleted: boolean; addr: NlAddr }
  | { kind: 'route'; deleted: boolean; route: NlRoute }
  /** neighbours and (family AF_BRIDGE) FDB entries */
  | { kind: 'neigh'; deleted: boolean; neigh: NlNeigh }
  | { kind: 'nexthop'; deleted: boolean; nexthop: NlNexthop };

/** One burst of multicast messages as events; message types we did not ask for are skipped. */
export function decodeEvents(buf: Buffer): KernelEvent[] {
  const out: KernelEvent[] = [];
  for (const m of parseMessages(buf)) {
    switch (m.type) {
      case RTM_NEWLINK: case RTM_DELLINK:
        out.push({ kind: 'link', deleted: m.type === RTM_DELLINK, link: decodeLink(m) });
        break;
      case RTM_NEWADDR: case RTM_DELADDR:
        out.push({ kind: 'addr', deleted: m.type === RTM_DELADDR, addr: decodeAddr(m) });
        break;
      case RTM_NEWROUTE: case RTM_DELROUTE:
        out.push({ kind: 'route', deleted: m.type === RTM_DELROUTE, route: decodeRoute(m) });
        break;
      case RTM_NEWNEIGH: case RTM_DELNEIGH:
        out.push({ kind: 'neigh', deleted: m.type === RTM_DELNEIGH, neigh: decodeNeigh(m) });
        break;
      case RTM_NEWNEXTHOP: case RTM_DELNEXTHOP:
        out.push({ kind: 'nexthop', deleted: m.type === RTM_DELNEXTHOP, nexthop: decodeNexthop(m) });
        break;
    }
  }
  return out;
}

// classic BPF (linux/filter.h): the kernel runs it on each multicast message (one per skb)
const BPF_LDB_ABS = 0x30;
const BPF_JEQ_K = 0x15;
const BPF_JSET_K = 0x45;
const BPF_RET_K = 0x06;

/**
 * A socket filter that drops, in the kernel, what a reconciler writes itself: new routes,
 * new addresses, new nexthop objects and permanent neighbours/FDB entries. Thousands of entries programmed in one
 * pass would otherwise come back as thousands of events (and fill the socket buffer). Route
 * deletions pass for the main table only (other tables are not ours). Deletions, link changes
 * and non-permanent neighbours pass. nlmsg_type and ndm_state are little-endian: their low
 * bytes are at offsets 4 and 16 + 8 (every type here is < 256); rtm_table is the byte at 16 + 4.
 */
export function dropOwnWritesFilter(): number[] {
  return [
    /* 0 */ BPF_LDB_ABS, 0, 0, 4, // A = nlmsg_type
    /* 1 */ BPF_JEQ_K, 9, 0, RTM_NEWROUTE, // -> drop
    /* 2 */ BPF_JEQ_K, 8, 0, RTM_NEWADDR, // -> drop
    /* 3 */ BPF_JEQ_K, 7, 0, RTM_NEWNEXTHOP, // -> drop
    /* 4 */ BPF_JEQ_K, 1, 0, RTM_DELROUTE, // -> 6
    /* 5 */ BPF_JEQ_K, 2, 4, RTM_NEWNEIGH, // -> 8, else accept
    /* 6 */ BPF_LDB_ABS, 0, 0, 16 + 4, // A = rtm_table
    /* 7 */ BPF_JEQ_K, 2, 3, RT_TABLE_MAIN, // main -> accept, else drop
    /* 8 */ BPF_LDB_ABS, 0, 0, 16 + 8, // A = ndm_state (low byte)
    /* 9 */ BPF_JSET_K, 1, 0, NUD_PERMANENT, // permanent -> drop, else accept
    /* 10 */ BPF_RET_K, 0, 0, 0xffffffff, // accept
    /* 11 */ BPF_RET_K, 0, 0, 0, // drop
  ];
}

export interface Subscription {
  stop(): void;
}

/**
 * Events of the RTNLGRP_* `groups` in the namespace at `netns` (undefined: our own), with an
 * optional socket filter (dropOwnWritesFilter). An idle subscription does not keep the
 * process alive.
 */
export function subscribeKernel(
  netns: string | undefined, groups: readonly number[], onEvents: (events: KernelEvent[]) => void, onLost: (errno: number) => void,
  filter?: number[],
): Subscription {
  const addon = netlinkAddon();
  let stopped = false;
  const id = addon.subscribe(netns ?? null, [...groups], (data, errno) => {
    if (stopped) return;
    if (data) {
      let events: KernelEvent[] | undefined;
      try {
        events = decodeEvents(data);
      } catch {
        onLost(0); // a message we could not split: treat as lost events
      }
      if (events?.length) onEvents(events);
    }
    if (errno) onLost(errno);
  }, ...(filter ? [filter] : []));
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      addon.unsubscribe(id);
    },
  };
}
