// The twill CNI plugin. main only dispatches: env and stdin are parsed once into typed config,
// one function runs per verb, and every failure becomes the spec's error JSON on stdout in
// this one place (exit status 1, no stack trace). Startup matters (the runtime starts one
// process per pod event), so nothing heavy is imported here: no etcd, no yargs, no kube client.
import { readFileSync, writeSync } from 'node:fs';
import { parseCniEnv } from '../lib/cni/env.js';
import { CniError, ErrorCode, toCniError } from '../lib/cni/errors.js';
import { isObject } from '../lib/cni/result.js';
import { atLeast, isSupportedVersion, LATEST_VERSION, VERB_SINCE } from '../lib/cni/versions.js';
import { cmdAdd } from './commands/add.js';
import { cmdCheck } from './commands/check.js';
import { cmdDel } from './commands/del.js';
import { cmdGc } from './commands/gc.js';
import { cmdStatus } from './commands/status.js';
import { cmdVersion } from './commands/version.js';
import { decodeStdin, parseNetConf } from './config.js';
import { warmUp } from './warmup.js';

const handlers = { ADD: cmdAdd, DEL: cmdDel, CHECK: cmdCheck, GC: cmdGc, STATUS: cmdStatus } as const;

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

function print(obj: object): void {
  writeSync(1, JSON.stringify(obj) + '\n');
}

async function main(): Promise<number> {
  const stdin = readStdin();
  // Answer errors in the config's own version when it has a usable one.
  let version: string = LATEST_VERSION;
  try {
    const peek = JSON.parse(stdin) as unknown;
    if (isObject(peek) && isSupportedVersion(peek.cniVersion)) version = peek.cniVersion;
  } catch {
    /* reported below, as code 6, once the environment is known to be sane */
  }
  try {
    const env = parseCniEnv(process.env);
    if (env.command === 'VERSION') {
      print(cmdVersion());
      return 0;
    }
    const conf = parseNetConf(decodeStdin(stdin), env);
    if (!atLeast(conf.cniVersion, VERB_SINCE[env.command])) {
      throw new CniError(ErrorCode.IncompatibleVersion, `${env.command} needs cniVersion ${VERB_SINCE[env.command]} or later, config has ${conf.cniVersion}`);
    }
    const out = await handlers[env.command](conf, env);
    if (out) print(out);
    return 0;
  } catch (e) {
    print(toCniError(e).toJSON(version));
    return 1;
  }
}

// scripts/warm-code-cache.mjs runs the bundle once at build time with this set, to fill the
// V8 code cache (see warmup.ts); a real plugin call never has it.
const warmUpDir = (globalThis as { __twillWarmUp?: string }).__twillWarmUp;
if (warmUpDir) {
  warmUp(warmUpDir);
} else {
  main().then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
}
