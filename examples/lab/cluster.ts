/**
 * The main job (`npm start`): the lab's three nodes, each in its own process, in the
 * foreground. Their CUSTOMLOG lines are echoed here, prefixed by node, and a line containing
 * `ready` is printed once a leader has written VARIABLE and all three have applied it.
 * Ctrl-C stops all three cleanly.
 *
 *   npx tsx examples/lab/cluster.ts [--dir lab-data] [--ports 8000,8001,8002]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: 'lab-data' },
    ports: { type: 'string', default: '8000,8001,8002' },
  },
});
const dir = resolve(values.dir);
mkdirSync(dir, { recursive: true });
const script = join(dirname(fileURLToPath(import.meta.url)), 'node.ts');
const nodes = [1, 2, 3];
const children: ChildProcess[] = nodes.map((n) =>
  spawn(
    process.execPath,
    ['--import', 'tsx', script, '--node', String(n), '--dir', dir, '--ports', values.ports],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  ),
);
const seen = new Map<number, number>(
  nodes.map((n) => [n, existsSync(logOf(n)) ? lines(n).length : 0]),
);
let ready = false;

function logOf(n: number): string {
  return join(dir, `node${n}_CUSTOMLOG.log`);
}

function lines(n: number): string[] {
  return existsSync(logOf(n))
    ? readFileSync(logOf(n), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];
}

// Echo new CUSTOMLOG lines; bounded polling of three small files.
const poll = setInterval(() => {
  const fresh = new Map<number, string[]>();
  for (const n of nodes) {
    const all = lines(n);
    fresh.set(n, all.slice(seen.get(n)));
    seen.set(n, all.length);
    for (const line of fresh.get(n) ?? []) process.stdout.write(`node${n} | ${line}\n`);
  }
  const writer = nodes.find((n) => (fresh.get(n) ?? []).includes('Done writing VARIABLE'));
  if (!ready && writer !== undefined) {
    ready = true;
    process.stdout.write(
      `ready: node ${writer} leads and wrote VARIABLE; inspect with npx raftkit inspect ${join(dir, `node${writer}`)} --objects\n`,
    );
  }
}, 100);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    clearInterval(poll);
    for (const c of children) c.kill('SIGTERM');
  });
}
for (const c of children) {
  c.on('exit', () => {
    if (children.every((x) => x.exitCode !== null || x.signalCode !== null)) {
      clearInterval(poll);
      process.exit(0);
    }
  });
}
