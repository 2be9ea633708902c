// `config get | set | validate`: the network config at <prefix>/config. `set` refuses what
// the daemon would refuse, warns about leases the change would strand, and writes with
// compare-and-swap so two operators cannot overwrite each other unnoticed.
import type { Argv } from 'yargs';
import { configKey } from '../../lib/schema/lease.js';
import { ConfigError, networkConfigToJSON, NetworkConfig } from '../../lib/schema/network-config.js';
import { readInput } from '../args.js';
import { CommandResult, emit } from '../command.js';
import { checkConfigText, leaseWarnings, subnetTotal } from '../config-checks.js';
import { CtlError, UsageError } from '../errors.js';
import { withRegistry } from '../etcd.js';
import { compareLeases } from '../lease-view.js';
import { readNetConfText } from '../kube.js';
import { contextFrom, Ctx, GlobalArgs, refuseInKubeMode } from '../options.js';
import { renderPairs } from '../output.js';

export function configCommand(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command('config', 'show, change and check the network config', (c) =>
    c
      .command('get', 'print the network config stored in etcd', (g) =>
        g.example('$0 config get -o json', 'the stored config, its effective values and revision'),
      async (a) => emit(contextFrom(a), await configGet(contextFrom(a))))
      .command('set <file>', 'validate FILE (or - for stdin) and store it with compare-and-swap', (s) =>
        s.positional('file', { type: 'string', describe: 'config JSON file, or - for stdin', demandOption: true })
          .option('expect-revision', { type: 'string', describe: 'write only if the stored config is at this revision (0: must not exist)' })
          .example('$0 config set net.json', 'replace the config, warning about leases it would strand')
          .example('$0 config get -o json | jq .modRevision', 'then: $0 config set --expect-revision REV net.json'),
      async (a) => {
        const ctx = contextFrom(a);
        refuseInKubeMode(ctx, 'config set'); // before reading FILE: the refusal is the answer
        emit(ctx, await configSet(ctx, readInput(a.file as string), a['expect-revision'] as string | undefined));
      })
      .command('validate <file>', 'check FILE (or - for stdin) without touching etcd', (v) =>
        v.positional('file', { type: 'string', describe: 'config JSON file, or - for stdin', demandOption: true })
          .example('$0 config validate net.json', 'exit 0 when valid; otherwise the field and the reason')
          .example('cat net.json | $0 config validate -', 'read the config from stdin'),
      async (a) => emit(contextFrom(a), configValidate(readInput(a.file as string))))
      .demandCommand(1, 'config needs a subcommand: get, set or validate')
      .example('$0 config get', 'show the network config'),
  );
}

function configPairs(c: NetworkConfig): [string, string | number | boolean][] {
  const pairs: [string, string | number | boolean][] = [
    ['Network', c.Network.toString()],
    ['SubnetLen', c.SubnetLen],
    ['SubnetMin', c.SubnetMin.first.toString()],
    ['SubnetMax', c.SubnetMax.first.toString()],
    ['Subnets', Number(subnetTotal(c))],
  ];
  if (c.EnableIPv6) pairs.push(['IPv6Network', c.IPv6Network!.toString()], ['IPv6SubnetLen', c.IPv6SubnetLen!]);
  pairs.push(['Backend', c.Backend.Type]);
  if (c.Backend.Type === 'vxlan') pairs.push(['VNI', c.Backend.VNI], ['Port', c.Backend.Port], ['DirectRouting', c.Backend.DirectRouting]);
  if (c.Backend.MTU !== undefined) pairs.push(['MTU', c.Backend.MTU]);
  return pairs;
}

function errorJson(e: unknown): { field: string; message: string } {
  if (e instanceof ConfigError) return { field: e.field, message: e.message };
  return { field: '(json)', message: (e as Error).message };
}

/** Where the config comes from: an etcd key with its revision, or kube mode's net-conf.json. */
interface StoredConfig {
  key: string;
  modRevision: string | null;
  raw: string;
}

async function readStoredConfig(ctx: Ctx): Promise<StoredConfig> {
  if (ctx.kube) return { key: ctx.kube.netConfPath, modRevision: null, raw: await readNetConfText(ctx.kube) };
  const stored = await withRegistry(ctx.etcd, (r) => r.getConfig());
  const key = configKey(ctx.etcd.prefix);
  if (!stored) throw new CtlError(`no network config at ${key} (create one with: twillctl config set FILE)`);
  return { key, modRevision: stored.modRevision, raw: stored.raw };
}

export async function configGet(ctx: Ctx): Promise<CommandResult> {
  const stored = await readStoredConfig(ctx);
  const key = stored.key;
  let config: unknown = stored.raw;
  try {
    config = JSON.parse(stored.raw);
  } catch {
    /* shown as the raw string */
  }
  try {
    const { config: parsed, warnings } = checkConfigText(stored.raw);
    return {
      data: { key, modRevision: stored.modRevision, config, effective: networkConfigToJSON(parsed), error: null },
      table: () => renderPairs([...configPairs(parsed), stored.modRevision === null ? ['File', key] : ['Revision', stored.modRevision]]),
      warnings,
    };
  } catch (e) {
    const err = errorJson(e);
    return {
      data: { key, modRevision: stored.modRevision, config, effective: null, error: err },
      table: () => (typeof config === 'string' ? config : JSON.stringify(config, null, 2)) + '\n',
      problems: [`stored config is invalid: ${err.message}`],
      exitCode: 1,
    };
  }
}

export function configValidate(text: string): CommandResult {
  try {
    const { config, warnings } = checkConfigText(text);
    return {
      data: { valid: true, effective: networkConfigToJSON(config), error: null, warnings },
      table: () => `valid\n${renderPairs(configPairs(config))}`,
      warnings,
    };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const err = errorJson(e);
    return {
      data: { valid: false, effective: null, error: err, warnings: [] },
      table: () => '',
      problems: [`invalid: ${err.message}`],
      exitCode: 1,
    };
  }
}

export async function configSet(ctx: ReturnType<typeof contextFrom>, text: string, expectRevision?: string): Promise<CommandResult> {
  refuseInKubeMode(ctx, 'config set');
  if (expectRevision !== undefined && !/^\d+$/.test(expectRevision)) {
    throw new UsageError(`--expect-revision: "${expectRevision}" is not a revision number`);
  }
  let checked;
  try {
    checked = checkConfigText(text);
  } catch (e) {
    if (e instanceof ConfigError) throw new CtlError(`refused: ${e.message}`);
    throw e;
  }
  const key = configKey(ctx.etcd.prefix);
  return withRegistry(ctx.etcd, async (r) => {
    const current = await r.getConfig();
    const base = expectRevision ?? current?.modRevision ?? '0';
    const { leases } = await r.listLeases();
    const warnings = [...checked.warnings, ...leaseWarnings(checked.config, [...leases].sort(compareLeases))];
    // Stored as the operator wrote it (minus whitespace): defaults stay implicit, as in flannel.
    const raw = JSON.stringify(JSON.parse(text));
    const out = await r.putConfig(raw, base);
    if (!out.ok) {
      const now = out.currentModRevision ?? 'none (deleted)';
      throw new CtlError(`conflict: the config at ${key} changed (revision ${now}, expected ${base}); nothing written — read it again and retry`);
    }
    return {
      data: { written: true, key, modRevision: out.modRevision, previousModRevision: current?.modRevision ?? null, warnings },
      table: () => `config written to ${key} at revision ${out.modRevision}\n`,
      warnings,
    };
  });
}
