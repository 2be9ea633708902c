// The bench side of bench/lease-writer.ts: one command line out, one answer line back.
import { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface, Interface } from 'node:readline';

export const WRITER = path.join(__dirname, 'lease-writer.js');

export class Writer {
  private lines: Interface;
  private waiting: ((line: string) => void)[] = [];
  constructor(readonly proc: ChildProcess) {
    this.lines = createInterface({ input: proc.stdout! });
    this.lines.on('line', (l) => this.waiting.shift()?.(l));
  }
  ask(cmd: string): Promise<string> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.proc.stdin!.write(cmd + '\n');
    });
  }
}
