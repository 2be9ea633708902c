// Ping round trips as the benchmarks report them.
import type { World } from '../harness/world.js';
import { median } from './stats.js';

/**
 * The median of `count` pings' round trips (ms): on a shared, loaded machine a few pings wait
 * milliseconds for a CPU, which would dominate an average (ping's "avg") and say more about
 * the neighbours' builds than about the path. With `cpu`, ping runs pinned to that CPU.
 */
export async function pingMedian(world: World, ns: string, ip: string, count = 20, cpu?: number): Promise<number> {
  const args = ['-c', String(count), '-i', '0.05', ip];
  const out = cpu === undefined ? await world.exec(ns, 'ping', args) : await world.exec(ns, 'taskset', ['-c', String(cpu), 'ping', ...args]);
  const times = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (!times.length) throw new Error(`no RTT in ping output: ${out}`);
  return median(times);
}
