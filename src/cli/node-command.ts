/**
 * @module
 * `raftkit node`: one key-value node in the foreground, until SIGINT or SIGTERM (a clean
 * stop, exit 0) or a fatal error such as a failed disk (exit 1). Logs go to stderr; stdout
 * gets one line once the node is up.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  Authenticator,
  createLogger,
  defaultConnectionLimits,
  type KvServerOptions,
  type LogFormat,
  type LogLevel,
  logFormats,
  logLevels,
  parseAuthFile,
  startKvNode,
} from '../kv/index.js';
import {
  DEFAULT_ELECTION_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_SNAPSHOT_BYTES,
  DEFAULT_SNAPSHOT_ENTRIES,
  DEFAULT_SNAPSHOT_KEEP_ENTRIES,
  SkewedClock,
  systemClock,
} from '../node/index.js';
import { CuttableTransport } from '../transport/index.js';
import { Dashboard, PeerClient, SupervisorClient, supervisorFromEnv } from '../ui/index.js';
import { clientSecurity, withClientSecurity } from './client-flags.js';
import { joinCluster } from './join.js';
import type { Output } from './main.js';
import { hostPort, hostPortList, nonNegativeInteger, oneOf, positiveInteger } from './parse.js';

export interface NodeFlags {
  listen: string;
  peers?: string[];
  join?: string[];
  learner?: boolean;
  data: string;
  id?: string;
  http?: string;
  transport: 'tcp' | 'udp';
  heartbeatMs: number;
  electionMs: number;
  requestTimeoutMs: number;
  clusterId?: string;
  secretFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  logFormat?: LogFormat;
  logLevel: LogLevel;
  snapshotEntries: number;
  snapshotBytes: number;
  snapshotKeepEntries: number;
  readMode: 'index' | 'lease';
  httpTlsCert?: string;
  httpTlsKey?: string;
  httpTlsCa?: string;
  authFile?: string;
  openProbes?: boolean;
  httpMaxConnections: number;
  httpMaxInFlight: number;
  httpHeaderTimeoutMs: number;
  httpBodyTimeoutMs: number;
  cacert?: string;
  cert?: string;
  key?: string;
  tokenFile?: string;
  httpAdvertise?: string;
  uiControls?: boolean;
}

/** How long a removed node keeps serving what is in flight before it stops. */
const REMOVED_GRACE_MS = 1000;

export function nodeCommand(output: Output): Command {
  const command = new Command('node')
    .description('run one key-value node in the foreground (Ctrl-C stops it cleanly)')
    .requiredOption('--listen <host:port>', 'where this node listens for Raft peers', hostPort)
    .option(
      '--peers <host:port,...>',
      'the other members of a new cluster (this node may be listed); not with --join',
      hostPortList,
    )
    .option(
      '--join <url,...>',
      'join the running cluster at these HTTP endpoints (an empty --data only)',
      urlList,
    )
    .option('--learner', 'with --join: stay a learner (no vote) rather than become a voter')
    .requiredOption('--data <dir>', 'data directory (created if absent)')
    .option('--id <id>', 'node id (default: the listen address)')
    .option('--http <host:port>', 'serve the HTTP API here', hostPort)
    .addOption(
      new Option(
        '--read-mode <mode>',
        'linearizable reads: index (a quorum round per batch) or lease (none while the lease holds; see the README for its clock bound)',
      )
        .choices(['index', 'lease'])
        .default('index'),
    )
    .addOption(
      new Option('--transport <kind>', 'raft transport').choices(['tcp', 'udp']).default('tcp'),
    )
    .option('--heartbeat-ms <ms>', 'heartbeat interval', positiveInteger, DEFAULT_HEARTBEAT_MS)
    .option(
      '--election-ms <ms>',
      'election timeout (drawn from [ms, 2ms))',
      positiveInteger,
      DEFAULT_ELECTION_MS,
    )
    .option(
      '--request-timeout-ms <ms>',
      'HTTP write and read timeout (then 504)',
      positiveInteger,
      5000,
    )
    .option('--cluster-id <id>', 'refuse messages of other clusters')
    .option('--secret-file <file>', 'shared secret: encrypt and authenticate every message')
    .option('--tls-cert <file>', 'TLS certificate (with --tls-key and --tls-ca: mutual TLS)')
    .option('--tls-key <file>', 'TLS private key')
    .option('--tls-ca <file>', 'certificate authority of the members')
    .option('--log-format <format>', 'json, or pretty (default on a terminal)', oneOf(logFormats))
    .option('--log-level <level>', 'least severe level logged', oneOf(logLevels), 'info')
    .option(
      '--snapshot-entries <n>',
      'snapshot after this many applied entries',
      positiveInteger,
      DEFAULT_SNAPSHOT_ENTRIES,
    )
    .option(
      '--snapshot-bytes <n>',
      'or sooner, once the entries applied since the last snapshot pass this many bytes',
      positiveInteger,
      DEFAULT_SNAPSHOT_BYTES,
    )
    .option(
      '--snapshot-keep-entries <n>',
      'entries kept behind a snapshot, for followers slightly behind',
      nonNegativeInteger,
      DEFAULT_SNAPSHOT_KEEP_ENTRIES,
    )
    .option('--http-tls-cert <file>', 'serve the HTTP API over HTTPS with this certificate (PEM)')
    .option('--http-tls-key <file>', "the HTTPS certificate's private key (PEM)")
    .option('--http-tls-ca <file>', 'ask HTTPS clients for a certificate this CA signed')
    .option(
      '--auth-file <file>',
      'require bearer tokens; their hashes and roles (raftkit auth add)',
    )
    .option(
      '--open-probes',
      'with --auth-file or --http-tls-ca: /metrics, /healthz and /readyz need neither token nor client certificate',
    )
    .option(
      '--http-max-connections <n>',
      'open HTTP connections served; beyond, 503',
      positiveInteger,
      defaultConnectionLimits.maxConnections,
    )
    .option(
      '--http-max-in-flight <n>',
      'HTTP requests served at once; beyond, 503',
      positiveInteger,
      defaultConnectionLimits.maxInFlight,
    )
    .option(
      '--http-header-timeout-ms <ms>',
      "a request's headers must arrive within this (then 408, connection cut)",
      positiveInteger,
      defaultConnectionLimits.headersTimeoutMs,
    )
    .option(
      '--http-body-timeout-ms <ms>',
      'the whole request, body included, must arrive within this',
      positiveInteger,
      defaultConnectionLimits.bodyTimeoutMs,
    )
    .option(
      '--http-advertise <url>',
      'the URL other members and the dashboard reach this API by (default: its own)',
      httpUrl,
    )
    .option(
      '--ui-controls',
      "let the dashboard (/ui) offer writes, leader transfer and membership changes (each still needs its token's role)",
    );
  // With --join: how to reach the cluster's API (its CA, a client certificate, an admin token).
  return withClientSecurity(command).action(async (flags: NodeFlags) => {
    await runNode(flags, output);
  });
}

/** The HTTP server's TLS, auth and limits from the flags (files read here). */
function serverSecurity(flags: NodeFlags): Partial<KvServerOptions> {
  const read = (file: string) => readFileSync(file, 'utf8');
  if ((flags.httpTlsCert === undefined) !== (flags.httpTlsKey === undefined)) {
    throw new Error('--http-tls-cert and --http-tls-key come together');
  }
  if (flags.httpTlsCa !== undefined && flags.httpTlsCert === undefined) {
    throw new Error('--http-tls-ca needs --http-tls-cert and --http-tls-key');
  }
  if (flags.openProbes === true && flags.authFile === undefined && flags.httpTlsCa === undefined) {
    throw new Error('--open-probes goes with --auth-file or --http-tls-ca');
  }
  if (flags.httpHeaderTimeoutMs > flags.httpBodyTimeoutMs) {
    throw new Error('--http-header-timeout-ms cannot be above --http-body-timeout-ms');
  }
  const tls =
    flags.httpTlsCert === undefined
      ? undefined
      : {
          cert: read(flags.httpTlsCert),
          key: read(flags.httpTlsKey as string),
          ...(flags.httpTlsCa === undefined ? {} : { ca: read(flags.httpTlsCa) }),
        };
  const auth =
    flags.authFile === undefined
      ? undefined
      : new Authenticator(parseAuthFile(read(flags.authFile), flags.authFile));
  return {
    ...(tls === undefined ? {} : { tls }),
    ...(auth === undefined ? {} : { auth }),
    openProbes: flags.openProbes === true,
    connectionLimits: {
      maxConnections: flags.httpMaxConnections,
      maxInFlight: flags.httpMaxInFlight,
      headersTimeoutMs: flags.httpHeaderTimeoutMs,
      bodyTimeoutMs: flags.httpBodyTimeoutMs,
    },
  };
}

function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected a URL such as http://10.0.0.1:9000');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/') {
    throw new InvalidArgumentError('expected http(s)://host:port, without a path');
  }
  return url.origin;
}

function urlList(value: string): string[] {
  const list = value
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  if (list.length === 0) throw new InvalidArgumentError('expected one URL or more');
  return list;
}

async function runNode(flags: NodeFlags, output: Output): Promise<void> {
  const id = flags.id ?? flags.listen;
  if ((flags.peers === undefined) === (flags.join === undefined)) {
    throw new Error('give --peers (a new cluster) or --join (a running one), not both or neither');
  }
  if (flags.learner === true && flags.join === undefined) {
    throw new Error('--learner goes with --join');
  }
  const joining = flags.join !== undefined;
  const logger = createLogger({
    level: flags.logLevel,
    base: { node: id },
    ...(flags.logFormat === undefined ? {} : { format: flags.logFormat }),
  });
  // A node outlives the pipe its stdout was (a supervisor that died): its few lines there are
  // lost, the node is not. Its log goes to stderr.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  const tlsFiles = [flags.tlsCert, flags.tlsKey, flags.tlsCa];
  if (tlsFiles.some((f) => f !== undefined) && tlsFiles.some((f) => f === undefined)) {
    throw new Error('--tls-cert, --tls-key and --tls-ca come together');
  }
  const read = (file: string) => readFileSync(file, 'utf8');
  // A hook reserved for testing (`raftkit verify --nemesis clock`): a clock that the HTTP
  // route /v1/test/clock makes fast, slow or jump. Off unless the environment asks for it.
  const hooks = (process.env.RAFTKIT_TEST_HOOKS ?? '').split(',');
  const testClock = hooks.includes('clock') ? new SkewedClock(systemClock) : undefined;
  if (testClock !== undefined) logger.warn({}, 'test hook on: the clock can be skewed over HTTP');
  const security = serverSecurity(flags);
  // Under a local `raftkit cluster`, the dashboard's controls reach this process through its
  // supervisor, and the transport can be cut off from the peers.
  const supervisor = supervisorFromEnv();
  let cuttable: CuttableTransport | null = null;
  // The dashboard asks the other members' APIs as `--join` would (`--cacert`, `--cert`,
  // `--key`); without those, trusting the API's own client CA and showing its certificate.
  const joinTls = clientSecurity(flags).tls ?? {};
  const peerTls = {
    ...(security.tls?.ca === undefined
      ? {}
      : { ca: security.tls.ca, cert: security.tls.cert, key: security.tls.key }),
    ...joinTls,
  };
  const kv = await startKvNode({
    address: flags.listen,
    peers: flags.peers ?? [],
    join: joining,
    id,
    dataDir: flags.data,
    transport: flags.transport,
    heartbeatMs: flags.heartbeatMs,
    electionMs: flags.electionMs,
    snapshotEntries: flags.snapshotEntries,
    snapshotBytes: flags.snapshotBytes,
    snapshotKeepEntries: flags.snapshotKeepEntries,
    readMode: flags.readMode,
    logger,
    server: {
      requestTimeoutMs: flags.requestTimeoutMs,
      ...security,
      ...(testClock === undefined ? {} : { testClock }),
    },
    ...(flags.httpAdvertise === undefined ? {} : { advertiseUrl: flags.httpAdvertise }),
    ...(supervisor === null
      ? {}
      : {
          wrapTransport: (t) => {
            cuttable = new CuttableTransport(t);
            return cuttable;
          },
        }),
    dashboard: (parts) =>
      new Dashboard({
        ...parts,
        controls: flags.uiControls === true,
        peerTls,
        ...(supervisor === null
          ? {}
          : {
              supervisor: {
                link: supervisor,
                client: new SupervisorClient(supervisor, new PeerClient()),
              },
            }),
        ...(cuttable === null ? {} : { cuttable }),
      }),
    ...(testClock === undefined ? {} : { clock: testClock }),
    ...(flags.http === undefined ? {} : { http: flags.http }),
    ...(flags.clusterId === undefined ? {} : { clusterId: flags.clusterId }),
    ...(flags.secretFile === undefined ? {} : { secret: read(flags.secretFile).trim() }),
    ...(flags.tlsCert === undefined
      ? {}
      : {
          tls: {
            cert: read(flags.tlsCert),
            key: read(flags.tlsKey as string),
            ca: read(flags.tlsCa as string),
          },
        }),
  });
  const { node } = kv;
  const removed = new Promise<number>((resolve) => {
    if (node.removedAt !== null) resolve(node.removedAt);
    else node.once('removed', resolve);
  });
  node.on('role', (role) => logger.info({ role, term: node.term }, `role: ${role}`));
  node.on('leader', (leader) =>
    logger.info({ leader, term: node.term }, `leader: ${leader ?? 'none'}`),
  );
  const http =
    kv.server === null ? 'no HTTP' : `HTTP on ${kv.server.url} (dashboard: ${kv.server.url}/ui)`;
  logger.info(
    { listen: flags.listen, peers: flags.peers, data: flags.data, http: kv.server?.url },
    'started',
  );
  output.out(`raftkit node ${id}: raft on ${flags.listen}, ${http}, data in ${flags.data}\n`);
  const join =
    flags.join === undefined
      ? Promise.resolve(null)
      : joinCluster(node, {
          endpoints: flags.join,
          address: flags.listen,
          learner: flags.learner === true,
          logger,
          security: clientSecurity(flags),
        });

  await new Promise<void>((resolve, reject) => {
    // Ctrl-C under `raftkit cluster` reaches a node twice (the terminal's SIGINT, then the
    // cluster's SIGTERM): the first signal stops it, later ones are noted.
    let stopping = false;
    const stop = (signal: string) => {
      logger.info({ signal }, stopping ? 'already stopping' : 'stopping');
      if (stopping) return;
      stopping = true;
      kv.stop().then(resolve, reject);
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    // Removed from the cluster, a node has nothing left to do: it says so once and stops,
    // rather than wait for a leader that will never contact it again.
    void removed.then((index) => {
      output.err(
        `raftkit node ${id}: removed from the cluster (configuration at index ${index}); stopping\n`,
      );
      // A moment for the answers in flight (the request that removed this node among them).
      setTimeout(() => stop('removed'), REMOVED_GRACE_MS).unref();
    });
    join.then(
      (outcome) => {
        if (outcome !== null && outcome !== 'already-member') {
          output.out(`raftkit node ${id}: ${outcome.replaceAll('-', ' ')}\n`);
        }
      },
      (e: unknown) => {
        output.err(`raftkit node ${id}: could not join: ${(e as Error).message}\n`);
        kv.stop().finally(() => reject(e));
      },
    );
    node.once('stopped', (reason) => {
      if (reason === null) return;
      logger.fatal({ err: reason }, 'the node stopped');
      kv.stop().finally(() => reject(reason));
    });
  });
  logger.info({}, 'stopped');
}
