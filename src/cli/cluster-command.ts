/**
 * @module
 * `raftkit cluster`: a local cluster in the foreground, every node a `raftkit node` process.
 * Their logs are echoed prefixed by node; a line containing `ready` is printed once every node
 * knows the same leader, then the dashboard's URL; Ctrl-C (or SIGTERM) stops them all and
 * waits for them. The dashboard can stop, pause, restart and cut off nodes through the
 * supervisor (`cluster-supervisor.ts`) unless `--no-ui-controls`.
 */
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import type { ProcessSpec } from './cluster-supervisor.js';
import type { Output } from './main.js';
import { nonNegativeInteger, port, positiveInteger } from './parse.js';

export const DEFAULT_BASE_PORT = 8000;
export const DEFAULT_HTTP_OFFSET = 1000;
export const defaultEndpoints = [0, 1, 2].map(
  (i) => `http://127.0.0.1:${DEFAULT_BASE_PORT + DEFAULT_HTTP_OFFSET + i}`,
);

interface ClusterFlags {
  nodes: number;
  basePort: number;
  httpBasePort?: number;
  data: string;
  host: string;
  logLevel?: string;
  electionMs?: number;
  heartbeatMs?: number;
  snapshotEntries?: number;
  snapshotBytes?: number;
  snapshotKeepEntries?: number;
  readMode?: string;
  tls?: boolean;
  uiControls?: boolean;
}

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/raftkit.js');

export function clusterCommand(output: Output): Command {
  return new Command('cluster')
    .description('run a local cluster in the foreground, each node in its own process')
    .option('--nodes <n>', 'how many nodes', positiveInteger, 3)
    .option(
      '--base-port <port>',
      'raft port of the first node (the next ones follow)',
      port,
      DEFAULT_BASE_PORT,
    )
    .option(
      '--http-base-port <port>',
      'HTTP port of the first node (default: base port + 1000)',
      port,
    )
    .option('--data <dir>', "directory for the nodes' data (one subdirectory each)", 'raftkit-data')
    .option('--host <host>', 'loopback address the nodes bind', '127.0.0.1')
    .option('--heartbeat-ms <ms>', 'passed to every node', positiveInteger)
    .option('--election-ms <ms>', 'passed to every node', positiveInteger)
    .option('--log-level <level>', 'passed to every node')
    .option('--snapshot-entries <n>', 'passed to every node', positiveInteger)
    .option('--snapshot-bytes <n>', 'passed to every node', positiveInteger)
    .option('--snapshot-keep-entries <n>', 'passed to every node', nonNegativeInteger)
    .addOption(new Option('--read-mode <mode>', 'passed to every node').choices(['index', 'lease']))
    .option('--tls', 'mutual TLS between the nodes, with a throwaway CA made for this run')
    .option(
      '--no-ui-controls',
      'the dashboard only shows: no writes, transfers, membership changes or stopping nodes from /ui',
    )
    .action((flags: ClusterFlags) => runCluster(flags, output));
}

/**
 * A new CA and a certificate per node (for the node's address and localhost) in `DATA/tls`,
 * replacing those of an earlier run: nothing outside this run trusts them.
 */
async function throwawayCertificates(data: string, host: string, nodes: number) {
  // Loaded here: `raftkit get` imports this module for its default endpoints, and stays light.
  const { writeCertificates } = await import('./security-commands.js');
  const dir = join(data, 'tls');
  rmSync(dir, { recursive: true, force: true });
  const names = Array.from({ length: nodes }, (_, i) => [`node${i + 1}`, host, 'localhost']);
  writeCertificates(dir, names, []);
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    cert: (i: number) => join(dir, `node${i + 1}.pem`),
    key: (i: number) => join(dir, `node${i + 1}-key.pem`),
  };
}

async function runCluster(flags: ClusterFlags, output: Output): Promise<void> {
  const httpBase = flags.httpBasePort ?? flags.basePort + DEFAULT_HTTP_OFFSET;
  const ids = Array.from({ length: flags.nodes }, (_, i) => i);
  const raft = ids.map((i) => `${flags.host}:${flags.basePort + i}`);
  const http = ids.map((i) => `${flags.host}:${httpBase + i}`);
  const pass = (name: string, value: unknown) => (value === undefined ? [] : [name, String(value)]);
  const format = process.stdout.isTTY ? 'pretty' : 'json';
  const tls =
    flags.tls === true ? await throwawayCertificates(flags.data, flags.host, flags.nodes) : null;
  if (tls !== null)
    output.out(`peers: mutual TLS, a throwaway CA and certificates in ${tls.dir}\n`);
  const specs: ProcessSpec[] = ids.map((i) => {
    const dir = join(flags.data, `node${i + 1}`);
    output.out(`node${i + 1}: raft ${raft[i]}  http://${http[i]}  data ${dir}\n`);
    const args = [
      bin,
      'node',
      ...['--listen', raft[i] as string, '--peers', raft.join(','), '--data', dir],
      ...['--http', http[i] as string, '--log-format', format],
      ...pass('--log-level', flags.logLevel),
      ...pass('--heartbeat-ms', flags.heartbeatMs),
      ...pass('--election-ms', flags.electionMs),
      ...pass('--snapshot-entries', flags.snapshotEntries),
      ...pass('--snapshot-bytes', flags.snapshotBytes),
      ...pass('--snapshot-keep-entries', flags.snapshotKeepEntries),
      ...pass('--read-mode', flags.readMode),
      ...(flags.uiControls === false ? [] : ['--ui-controls']),
      ...(tls === null
        ? []
        : ['--tls-cert', tls.cert(i), '--tls-key', tls.key(i), '--tls-ca', tls.ca]),
    ];
    return { id: raft[i] as string, name: `node${i + 1}`, args, http: http[i] as string };
  });
  // Loaded here, as the certificates above: `raftkit get` imports this module and stays light.
  const { LocalProcesses } = await import('./cluster-supervisor.js');
  const processes = await LocalProcesses.start(specs, output);

  let stopping = false;
  let ready = false;
  let failure: string | null = null;
  const stopAll = () => {
    if (stopping) return;
    stopping = true;
    void processes.stopAll();
  };
  const onSignal = () => stopAll();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  processes.onUnexpectedExit = (name) => {
    if (!ready) {
      failure = `${name} exited before the cluster was ready`;
      stopAll();
    }
  };

  // Ready once every node reports the same leader.
  const poll = setInterval(async () => {
    if (ready || stopping) return;
    const statuses = await Promise.all(
      http.map((a) =>
        fetch(`http://${a}/v1/status`, { signal: AbortSignal.timeout(500) })
          .then((r) => r.json() as Promise<{ leader: string | null }>)
          .catch(() => null),
      ),
    );
    const leaders = new Set(statuses.map((s) => s?.leader ?? null));
    const [leader] = leaders;
    if (ready || stopping || leaders.size !== 1 || leader == null) return;
    ready = true;
    clearInterval(poll);
    output.out(
      `ready: ${flags.nodes} nodes, leader ${leader} (try: npx raftkit put a 1 && npx raftkit get a)\n`,
    );
    output.out(`dashboard: http://${http[0]}/ui\n`);
  }, 100);

  await processes.finished();
  clearInterval(poll);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (failure !== null) throw new Error(failure);
  output.out('all nodes stopped\n');
}
