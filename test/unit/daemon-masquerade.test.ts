import assert from 'node:assert/strict';
import { Cidr } from '../../lib/ip/cidr.js';
import { masqueradeRules, planMasquerade } from '../../lib/dataplane/masquerade.js';

const spec = { network: Cidr.parse('10.244.0.0/16'), podSubnet: Cidr.parse('10.244.3.0/24') };

/** What iptables-save prints after a restore of `script` into empty tables. */
function saveAfter(script: string): string {
  const out: string[] = [];
  let table = '';
  const rules = new Map<string, string[]>();
  for (const line of script.split('\n')) {
    if (line.startsWith('*')) table = line;
    else if (line.startsWith('-A') || line.startsWith('-I')) {
      const list = rules.get(table) ?? [];
      list.push(line.replace(/^-I (\S+) 1/, '-A $1'));
      rules.set(table, list);
    }
  }
  for (const [t, r] of rules) out.push(t, ...r, 'COMMIT');
  return out.join('\n');
}

describe('masquerade rules', () => {
  it('returns pod-to-pod traffic and masquerades pod-to-outside (flannel\'s rule set)', () => {
    const { nat, filter } = masqueradeRules(spec);
    assert.equal(nat.length, 6);
    assert.match(nat[1], /^-A TWILL-POSTRTG -s 10.244.3.0\/24 -d 10.244.0.0\/16 .* -j RETURN$/);
    assert.match(nat[2], /^-A TWILL-POSTRTG -s 10.244.0.0\/16 -d 10.244.3.0\/24 .* -j RETURN$/);
    assert.match(nat[3], /^-A TWILL-POSTRTG ! -s 10.244.0.0\/16 -d 10.244.3.0\/24 .* -j RETURN$/);
    assert.match(nat[4], /^-A TWILL-POSTRTG -s 10.244.0.0\/16 ! -d 224.0.0.0\/4 .* -j MASQUERADE --random-fully$/);
    assert.deepEqual(filter.map((l) => l.replace(/ -m comment.*-j/, ' -j')), [
      '-A TWILL-FWD -s 10.244.0.0/16 -j ACCEPT',
      '-A TWILL-FWD -d 10.244.0.0/16 -j ACCEPT',
    ]);
  });

  it('writes both tables atomically when nothing is there', () => {
    const script = planMasquerade('', spec)!;
    assert.match(script, /^\*nat\n:TWILL-POSTRTG - \[0:0\]\n/);
    assert.match(script, /-I POSTROUTING 1 -m comment --comment "twill: masquerade" -j TWILL-POSTRTG\nCOMMIT/);
    assert.match(script, /\*filter\n:TWILL-FWD - \[0:0\]\n/);
    assert.match(script, /-I FORWARD 1 .* -j TWILL-FWD\nCOMMIT\n$/);
  });

  it('is idempotent: once applied, the plan is empty', () => {
    const applied = saveAfter(planMasquerade('', spec)!);
    assert.equal(planMasquerade(applied, spec), undefined);
  });

  it('rewrites only the table that drifted, without a second jump', () => {
    const applied = saveAfter(planMasquerade('', spec)!);
    const withoutFwdRule = applied.split('\n').filter((l) => !l.startsWith('-A TWILL-FWD -d')).join('\n');
    const fix = planMasquerade(withoutFwdRule, spec)!;
    assert.doesNotMatch(fix, /\*nat/);
    assert.doesNotMatch(fix, /-I FORWARD/, 'the jump is still there');
    assert.match(fix, /-A TWILL-FWD -d 10.244.0.0\/16/);
  });

  it('a new pod subnet (lease re-acquired elsewhere) rewrites the nat chain', () => {
    const applied = saveAfter(planMasquerade('', spec)!);
    const fix = planMasquerade(applied, { ...spec, podSubnet: Cidr.parse('10.244.9.0/24') })!;
    assert.match(fix, /-s 10.244.9.0\/24 -d 10.244.0.0\/16/);
    assert.doesNotMatch(fix, /\*filter/);
  });
});
