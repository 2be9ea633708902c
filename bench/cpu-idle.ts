// What this machine's CPUs do when idle, which sets what a wake-up on another CPU costs: on a
// VM whose vCPUs halt (HLT) the wake-up is an IPI and a VM exit, on one whose idle vCPUs poll
// first it is a store the polling CPU sees. The userspace dataplane's round trip crosses such
// wake-ups and the kernel path's does not, so the benchmarks print this beside their RTTs.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const CPUIDLE = '/sys/devices/system/cpu/cpuidle/current_driver';
const HALT_POLL = '/sys/module/haltpoll/parameters';

/** The haltpoll governor's settings (KVM guests): how long an idle vCPU polls before it halts. */
export interface HaltPoll {
  /** the longest poll, ns; 0: never poll */
  ns: number;
  /** the first poll after a wake-up that came within the window, ns */
  growStartNs: number;
  /** whether an idle spell longer than the window shrinks it again */
  allowShrink: boolean;
}

function readParam(name: string): string {
  return readFileSync(`${HALT_POLL}/${name}`, 'utf8').trim();
}

export function readHaltPoll(): HaltPoll | undefined {
  if (!existsSync(`${HALT_POLL}/guest_halt_poll_ns`)) return undefined;
  return { ns: Number(readParam('guest_halt_poll_ns')), growStartNs: Number(readParam('guest_halt_poll_grow_start')), allowShrink: readParam('guest_halt_poll_allow_shrink') === 'Y' };
}

export function writeHaltPoll(h: HaltPoll): void {
  // the window first, so that a start larger than the old window is accepted
  writeFileSync(`${HALT_POLL}/guest_halt_poll_ns`, String(h.ns));
  writeFileSync(`${HALT_POLL}/guest_halt_poll_grow_start`, String(h.growStartNs));
  writeFileSync(`${HALT_POLL}/guest_halt_poll_allow_shrink`, h.allowShrink ? 'Y' : 'N');
}

/**
 * A halt poll that stays at `ns` (it starts there and never shrinks): at 20 pings a second every
 * idle spell outlasts any sensible window, so the governor's own shrinking would switch it off.
 */
export function steadyHaltPoll(ns: number): HaltPoll {
  return { ns, growStartNs: ns, allowShrink: ns === 0 };
}

/** One line for a benchmark's header, e.g. "cpuidle haltpoll, guest halt poll 0 µs (idle vCPUs halt at once)". */
export function describeCpuIdle(): string {
  const driver = existsSync(CPUIDLE) ? readFileSync(CPUIDLE, 'utf8').trim() : 'none';
  const h = readHaltPoll();
  if (!h) return `cpuidle ${driver}`;
  return `cpuidle ${driver}, guest halt poll ${h.ns / 1000} µs` + (h.ns === 0 ? ' (idle vCPUs halt at once)' : h.allowShrink ? ' (shrinks)' : '');
}
