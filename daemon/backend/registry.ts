// Backends by the network config's Backend.Type. A new backend is one more entry here.
import type { BackendType } from '../../lib/schema/network-config.js';
import type { Backend, BackendContext, BackendFactory } from './backend.js';
import { createHostGwBackend } from './host-gw.js';
import { createUserspaceVxlanBackend } from './userspace-vxlan.js';
import { createVxlanBackend } from './vxlan.js';

export const backends: Record<BackendType, BackendFactory> = {
  'vxlan': createVxlanBackend,
  'host-gw': createHostGwBackend,
};

export function createBackend(ctx: BackendContext): Backend {
  const factory = backends[ctx.config.Backend.Type];
  if (!factory) throw new Error(`backend ${ctx.config.Backend.Type} is not available`);
  // a per-node choice: the lease and the wire format stay vxlan's, only this node's dataplane moves
  if (ctx.config.Backend.Type === 'vxlan' && ctx.userspaceVxlan) return createUserspaceVxlanBackend(ctx, ctx.userspaceVxlan);
  return factory(ctx);
}
