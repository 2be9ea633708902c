// The fake peers of bench:scale and bench:soak, one function of an index (and a MAC generation).
import { LeaseAttrs } from '../lib/schema/lease.js';
import { Cidr, Ip } from '../lib/ip/cidr.js';
import { Mac } from '../lib/ip/mac.js';

/** Peer i: subnet 10.<i/256>.<i%256>.0/24, public IP in 198.19/16 (never contacted), unique MAC
 *  (its fourth byte is the MAC's generation: a peer whose VXLAN device was re-created). */
export function peer(i: number, gen = 0) {
  const subnet = Cidr.parse(`10.${(i >> 8) & 255}.${i & 255}.0/24`);
  const attrs: LeaseAttrs = {
    PublicIP: Ip.parse(`198.19.${(i >> 8) & 255}.${i & 255}`),
    BackendType: 'vxlan',
    BackendData: { VNI: 1, VtepMAC: Mac.parse(`0e:00:00:${(gen & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`) },
  };
  return { subnet, attrs };
}
