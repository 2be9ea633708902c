// `doctor`: run on a node; compares its kernel state and subnet.env with the leases and
// prints each difference with the command that fixes it. Exit 1 on any error (and, with
// --strict, on warnings).
import type { Argv } from 'yargs';
import { parseIpArg } from '../args.js';
import { CommandResult, emit } from '../command.js';
import { diagnose, runDoctor } from '../doctor/run.js';
import { withRegistry } from '../etcd.js';
import { listKubeLeases, readNetConf } from '../kube.js';
import { contextFrom, Ctx, GlobalArgs } from '../options.js';
import { renderTable, terminalSafe } from '../output.js';
import type { Finding } from '../doctor/findings.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';

export function doctorCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command('doctor', "diagnose this node's overlay (kernel vs leases vs subnet.env)", (d) =>
    d.option('public-ip', { type: 'string', default: process.env.TWILLD_PUBLIC_IP || undefined, describe: "this node's public IP (default: the lease of the subnet in subnet.env) [env: TWILLD_PUBLIC_IP]" })
      .option('subnet-file', { type: 'string', default: process.env.TWILLD_SUBNET_FILE || DEFAULT_SUBNET_FILE, describe: 'the subnet.env twilld writes [env: TWILLD_SUBNET_FILE]' })
      .option('strict', { type: 'boolean', default: false, describe: 'exit 1 on warnings too' })
      .option('nexthop-objects', { type: 'boolean', default: true, describe: 'as twilld: --no-nexthop-objects when this node\'s twilld runs with it (plain tunnel routes)' })
      .example('$0 doctor', 'on a node: find what breaks pod traffic, with fixes')
      .example('$0 doctor --public-ip 192.0.2.17 -o json', 'for scripts: findings as JSON'),
  async (a) => {
    const ctx = contextFrom(a);
    emit(ctx, await doctor(ctx, {
      publicIp: a['public-ip'] === undefined ? undefined : parseIpArg(String(a['public-ip']), '--public-ip').toString(),
      subnetFile: String(a['subnet-file']),
      strict: a.strict as boolean,
      nexthopObjects: a['nexthop-objects'] !== false,
    }));
  });
}

/** Kube mode: net-conf.json and the Nodes; this node is the Node with --public-ip or subnet.env's podCIDR. */
async function doctorFromNodes(ctx: Ctx, o: { publicIp?: string; subnetFile: string; nexthopObjects?: boolean }) {
  const config = await readNetConf(ctx.kube!);
  const { leases, invalid } = await listKubeLeases(ctx.kube!, config);
  return diagnose(config, leases, o, invalid);
}

export async function doctor(ctx: Ctx, o: { publicIp?: string; subnetFile: string; strict: boolean; nexthopObjects?: boolean }): Promise<CommandResult> {
  const report = ctx.kube ? await doctorFromNodes(ctx, o) : await withRegistry(ctx.etcd, (r) => runDoctor(r, o), { bounded: false });
  const list = report.findings.list;
  const errors = report.findings.count('error');
  const warnings = report.findings.count('warning');
  const failed = errors > 0 || (warnings > 0 && o.strict);
  return {
    data: { node: report.node, peers: report.peers, findings: list, errors, warnings, ok: errors === 0 && warnings === 0 },
    table: () => {
      const head = `node ${report.node.publicIP}  subnet ${report.node.subnet}  backend ${report.node.backendType}` +
        `${report.node.device ? `  device ${report.node.device}` : ''}  peers ${report.peers}\n`;
      if (list.length === 0) return `${head}OK: no problems found\n`;
      const rows = renderTable<Finding>(list, [
        { header: 'SEVERITY', value: (x) => x.severity },
        { header: 'CHECK', value: (x) => x.check },
        { header: 'SUBJECT', value: (x) => x.subject },
        { header: 'PROBLEM', value: (x) => x.problem },
      ]);
      const fixes = list.map((x, n) => `  ${n + 1}. ${terminalSafe(x.subject)}: ${terminalSafe(x.fix)}`).join('\n');
      return `${head}${rows}\nHow to fix:\n${fixes}\n\n${errors} error(s), ${warnings} warning(s)\n`;
    },
    exitCode: failed ? 1 : 0,
  };
}
