// The userspace VXLAN engine's counters in Prometheus text format, appended to /metrics.
import type { EngineStats } from '../../lib/kernel/tun/engine.js';
import { TUN_F } from '../../lib/kernel/tun/device.js';

const P = 'twill_userspace_vxlan';

function family(name: string, help: string, type: 'counter' | 'gauge', series: [string, number][]): string[] {
  return [`# HELP ${P}_${name} ${help}`, `# TYPE ${P}_${name} ${type}`, ...series.map(([labels, v]) => `${P}_${name}${labels} ${v}`)];
}

export function renderEngineMetrics(s: EngineStats | undefined, tapOffloads: number, peers: number): string[] {
  const up = s && !s.failure ? 1 : 0;
  const out = [
    ...family('up', '1 while the userspace VXLAN engine runs without failure', 'gauge', [['', up]]),
    ...family('peers', 'Entries in the engine\'s peer table (VtepMAC -> public IP)', 'gauge', [['', peers]]),
  ];
  if (!s) return out;
  return out.concat(
    family('packets_total', 'VXLAN packets sent and received on the UDP port', 'counter',
      [['{direction="tx"}', s.txPackets], ['{direction="rx"}', s.rxPackets]]),
    family('bytes_total', 'UDP payload bytes sent and received', 'counter',
      [['{direction="tx"}', s.txBytes], ['{direction="rx"}', s.rxBytes]]),
    family('frames_total', 'Frames read from (tx) and written towards (rx) the TAP device', 'counter',
      [['{direction="tx"}', s.txFrames], ['{direction="rx"}', s.rxFrames]]),
    family('syscalls_total', 'sendmmsg calls (tx) and TAP writes (rx): frames per call show batching and coalescing', 'counter',
      [['{direction="tx"}', s.txSends], ['{direction="rx"}', s.rxWrites]]),
    family('dropped_total', 'Frames and packets dropped, by reason', 'counter', [
      ['{reason="unknown_mac"}', s.txDropUnknownMac], ['{reason="bad_frame"}', s.txDropBadFrame],
      ['{reason="send_error"}', s.txDropSendError], ['{reason="malformed"}', s.rxDropMalformed],
      ['{reason="wrong_vni"}', s.rxDropWrongVni], ['{reason="unknown_source"}', s.rxDropUnknownSource],
      ['{reason="write_error"}', s.rxDropWriteError],
    ]),
    family('peer_table_swaps_total', 'Peer tables handed to the engine', 'counter', [['', s.peerSwaps]]),
    family('threads', 'Engine threads (a sender and a receiver per TAP queue)', 'gauge', [['', s.threads]]),
    family('cpu_steering', '1 when packets go to the queue of the CPU handling them (threads pinned), 0 when by flow hash', 'gauge', [['', s.cpuSteering ? 1 : 0]]),
    family('offload', '1 when an offload is in use (probed at start)', 'gauge', [
      ['{name="tap_tso4"}', tapOffloads & TUN_F.TSO4 ? 1 : 0], ['{name="tap_csum"}', tapOffloads & TUN_F.CSUM ? 1 : 0],
      ['{name="udp_gso"}', s.udpGso ? 1 : 0], ['{name="udp_gro"}', s.udpGro ? 1 : 0],
    ]),
  );
}
