// rtnetlink numbers twill uses, from linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h,
// neighbour.h and veth.h (checked against this machine's headers). Only what twill sends or reads.

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** In an ack: the kernel appended extended-ack attributes after the (capped) request. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;
export const NLMSGERR_ATTR_MSG = 1;

export const NLA_F_NESTED = 0x8000;
export const NLA_TYPE_MASK = 0x3fff;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_GETNEIGH = 30;
/** Nexthop objects (Linux 5.3+): a route names one by id instead of carrying its own next hop. */
export const RTM_NEWNEXTHOP = 104;
export const RTM_DELNEXTHOP = 105;
export const RTM_GETNEXTHOP = 106;

/** Multicast groups (rtnetlink.h enum rtnetlink_groups), for event subscriptions. */
export const RTNLGRP_LINK = 1;
export const RTNLGRP_NEIGH = 3;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV4_ROUTE = 7;
export const RTNLGRP_IPV6_IFADDR = 9;
export const RTNLGRP_IPV6_ROUTE = 11;
export const RTNLGRP_NEXTHOP = 32;

/** ndmsg attributes (neighbour.h): the same message carries ARP/ND entries and bridge FDB entries. */
export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const NDA_IFINDEX = 8;
export const NDA_MASTER = 9;
export const NUD_INCOMPLETE = 0x01;
export const NUD_REACHABLE = 0x02;
export const NUD_STALE = 0x04;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;
/** The entry belongs to the device itself (a VXLAN device's remote), not to a bridge master. */
export const NTF_SELF = 0x02;
export const NTF_MASTER = 0x04;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

export const IFF_UP = 0x1;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINK = 5;
export const IFLA_MASTER = 10;
export const IFLA_PROTINFO = 12;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
export const IFLA_NET_NS_FD = 28;
export const IFLA_AF_SPEC = 26;
export const IFLA_LINK_NETNSID = 37;
/** Inside IFLA_AF_SPEC / AF_INET6: how the kernel makes the link-local address (u8). */
export const IFLA_INET6_ADDR_GEN_MODE = 8;
/** No link-local address at all (the caller adds its own). */
export const IN6_ADDR_GEN_MODE_NONE = 1;

export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const IFLA_INFO_SLAVE_KIND = 4;
export const IFLA_INFO_SLAVE_DATA = 5;
export const VETH_INFO_PEER = 1;
/** IFLA_BRPORT_MODE: 1 = hairpin on */
export const IFLA_BRPORT_MODE = 4;
/** Inside IFLA_INFO_DATA of a vxlan link (linux/if_link.h). */
export const IFLA_VXLAN_ID = 1;
export const IFLA_VXLAN_LINK = 3;
export const IFLA_VXLAN_LOCAL = 4;
export const IFLA_VXLAN_LEARNING = 7;
/** the UDP destination port, big-endian u16 */
export const IFLA_VXLAN_PORT = 15;
export const IFLA_VXLAN_LOCAL6 = 17;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_BROADCAST = 4;
/** u32 address flags; the ifaddrmsg header only has room for the low 8 bits */
export const IFA_FLAGS = 8;
/** IPv6: skip duplicate address detection, the address is usable (not tentative) at once */
/** IFA_F_SECONDARY for IPv4: an IPv6 privacy (temporary) address */
export const IFA_F_TEMPORARY = 0x01;
export const IFA_F_NODAD = 0x02;
export const IFA_F_OPTIMISTIC = 0x04;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;

export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PREFSRC = 7;
export const RTA_TABLE = 15;
/** u32: the nexthop object the route uses */
export const RTA_NH_ID = 30;

// struct nhmsg attributes (linux/nexthop.h)
export const NHA_ID = 1;
export const NHA_OIF = 5;
export const NHA_GATEWAY = 6;

export const RT_TABLE_MAIN = 254;
/** What `ip route add` sets when no `proto` is given. */
export const RTPROT_KERNEL = 2;
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
/** In a delete: match a route of any scope (what `ip route del` sends). */
export const RT_SCOPE_NOWHERE = 255;
export const RTN_UNICAST = 1;
export const RTNH_F_ONLINK = 0x4;

/** The names `ip -json` uses for ifi_flags bits, in its order. */
export const IFF_NAMES: [number, string][] = [
  [0x8, 'LOOPBACK'],
  [0x2, 'BROADCAST'],
  [0x10, 'POINTOPOINT'],
  [0x1000, 'MULTICAST'],
  [0x80, 'NOARP'],
  [0x200, 'ALLMULTI'],
  [0x100, 'PROMISC'],
  [0x400, 'MASTER'],
  [0x800, 'SLAVE'],
  [0x1, 'UP'],
  [0x10000, 'LOWER_UP'],
  [0x20000, 'DORMANT'],
];

export const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'];
