/**
 * The lab of the seed report, on raftkit: three nodes on 127.0.0.1:8000-8002.
 *
 *   npx tsx examples/lab/node.ts --node 1      (and 2, and 3, each in its own terminal)
 *
 * Node N keeps its data in `nodeN/` and appends human lines to `nodeN_CUSTOMLOG.log` (in the
 * current folder, or --dir): `Leader is now: ADDRESS` on every leader change (`None` when
 * there is none), `Applied VARIABLE = ...` each time its state machine applies the value, and,
 * on the leader, `Done writing VARIABLE` once the value it wrote is committed.
 * Stop a node with Ctrl-C (a clean stop) or SIGKILL (a crash); start it again to see it come
 * back as a follower and catch up.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ObjectStore,
  type RaftNode,
  Replicated,
  raftosTiming,
  startNode,
} from '../../src/index.js';

const usage = `usage: tsx examples/lab/node.ts --node N [--dir DIR] [--ports 8000,8001,8002]
       [--transport tcp|udp] [--heartbeat-ms MS] [--election-ms MS]`;

function fail(message: string): never {
  process.stderr.write(`lab: ${message}\n${usage}\n`);
  process.exit(2);
}

function parse() {
  try {
    return parseArgs({
      options: {
        node: { type: 'string' },
        dir: { type: 'string', default: '.' },
        ports: { type: 'string', default: '8000,8001,8002' },
        transport: { type: 'string', default: 'tcp' },
        'heartbeat-ms': { type: 'string', default: String(raftosTiming.heartbeatMs) },
        'election-ms': { type: 'string', default: String(raftosTiming.electionMs) },
      },
      strict: true,
    }).values;
  } catch (e) {
    fail((e as Error).message);
  }
}

const args = parse();
const ports = args.ports.split(',').map(Number);
const n = Number(args.node);
if (ports.length < 2 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
  fail(`--ports needs a list of ports, got ${args.ports}`);
}
if (!Number.isInteger(n) || n < 1 || n > ports.length) fail(`--node must be 1 to ${ports.length}`);
if (args.transport !== 'tcp' && args.transport !== 'udp') fail('--transport is tcp or udp');
const dir = resolve(args.dir);
mkdirSync(dir, { recursive: true });
const addresses = ports.map((p) => `127.0.0.1:${p}`);
const address = addresses[n - 1] as string;
const customLog = join(dir, `node${n}_CUSTOMLOG.log`);
const log = (line: string): void => appendFileSync(customLog, `${line}\n`);

/** The replicated objects, logging each time the value is applied. */
class LabStore extends ObjectStore {
  override apply(command: Uint8Array, index: number): unknown {
    const result = super.apply(command, index);
    log(`Applied VARIABLE = ${JSON.stringify(this.value('VARIABLE'))} (entry ${index})`);
    return result;
  }
}

let node: RaftNode<LabStore>;
try {
  node = await startNode({
    address,
    peers: addresses,
    dataDir: join(dir, `node${n}`),
    stateMachine: new LabStore(),
    transport: args.transport,
    heartbeatMs: Number(args['heartbeat-ms']),
    electionMs: Number(args['election-ms']),
    logger: {
      info: () => {},
      warn: (fields, message) =>
        process.stderr.write(`warn: ${message} ${JSON.stringify(fields)}\n`),
      error: (fields, message) =>
        process.stderr.write(`error: ${message} ${JSON.stringify(fields)}\n`),
    },
  });
} catch (e) {
  fail((e as Error).message);
}
process.stdout.write(
  `node ${n} listening on ${address}, data in ${join(dir, `node${n}`)}, log in ${customLog}\n`,
);

const variable = new Replicated<string>(node, 'VARIABLE');
node.on('leader', (leader) => log(`Leader is now: ${leader ?? 'None'}`));
node.on('role', (role, term) => {
  if (role !== 'leader') return;
  // The new leader writes a value of its own, as the leader of the lab did.
  variable
    .set(`written by ${address} in term ${term}`)
    .then(() => {
      log('Done writing VARIABLE');
      log('Check the .log and .state_machine files!');
    })
    .catch((e: Error) => process.stderr.write(`could not write VARIABLE: ${e.message}\n`));
});
node.on('stopped', (reason) => {
  if (reason !== null) {
    process.stderr.write(`node stopped: ${reason.message}\n`);
    process.exit(1);
  }
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    node.stop().then(() => process.exit(0));
  });
}
