// The README is the project's one document; tests that check docs against the code read the
// section they describe, from its "## " heading to the next one.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../harness/cni.js';

export function readmeSection(heading: string): string {
  const text = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no section "## ${heading}"`);
  const next = text.indexOf('\n## ', start + 4);
  return text.slice(start, next < 0 ? undefined : next);
}
