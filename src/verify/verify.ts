/**
 * @module
 * `raftkit verify`, the run itself: start a cluster of real nodes (each in its own network
 * namespace when it can), run the clients while the nemesis injects faults, heal everything,
 * wait for the cluster to recover, read every key linearizably from every node, check the
 * history, stop the nodes and check that every acknowledged write is in every member's log.
 * With `endpoints`, the same clients and checks against a cluster the user runs (no nemesis,
 * no log check: the data is not here).
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkLinearizable, kvModel, type Verdict } from '../check/index.js';
import { RaftkitClient, type RaftkitClientOptions } from '../kv/index.js';
import { type Slot, VerifyCluster } from './cluster.js';
import { checkDurable, type DurabilityReport } from './durability.js';
import { Nemesis, type NemesisKind, setClock } from './nemesis.js';
import { NamespaceNetwork, namespacesUnavailable, removeOrphans } from './netns.js';
import { forgetNodes, stopOrphanedNodes } from './orphans.js';
import { writeReport } from './report.js';
import { KvLoad, type Outcome, type Recorded, seeded, sleep } from './workload.js';

export interface VerifyOptions {
  readonly nodes: number;
  readonly seconds: number;
  readonly nemesis: readonly NemesisKind[];
  readonly faultIntervalMs: number;
  readonly clients: number;
  readonly keys: number;
  /** Total operations a second; closed loop when absent. */
  readonly rate?: number;
  /** The report folder (created). */
  readonly report: string;
  /** Check this running cluster instead of starting one. */
  readonly endpoints?: readonly string[];
  /** With `endpoints`: the token and TLS options of its API. */
  readonly security?: Pick<RaftkitClientOptions, 'token' | 'tls'>;
  readonly seed: number;
  readonly readMode: 'index' | 'lease';
  /** `--snapshot-entries` of the nodes (small with the snapshot nemesis). */
  readonly snapshotEntries?: number;
  /** Keep the nodes' data directories even when the run passes. */
  readonly keepData?: boolean;
  /** The raftkit command line the nodes run (another build, for a planted bug). */
  readonly bin?: string;
  /** A line of progress, replaced by the next (operations, errors, faults, elapsed). */
  readonly progress: (line: string) => void;
  /** A line of the log of the run (faults, phases). */
  readonly log: (line: string) => void;
  /** Ctrl-C: the run stops where it is, cleans up, and rejects with `VerifyAbortedError`. */
  readonly signal?: AbortSignal;
}

/** The run was stopped (Ctrl-C) before it could check anything. */
export class VerifyAbortedError extends Error {
  constructor() {
    super('verify was interrupted: everything it started was stopped and removed');
    this.name = 'VerifyAbortedError';
  }
}

export interface VerifyResult {
  readonly verdict: Verdict;
  readonly ops: readonly Recorded[];
  readonly counts: Readonly<Record<string, Readonly<Record<Outcome, number>>>>;
  readonly faults: Readonly<Record<string, number>>;
  readonly durability: readonly DurabilityReport[] | null;
  readonly lost: readonly string[];
  /** Problems that make the run fail although no check found a violation (no recovery). */
  readonly problems: readonly string[];
  readonly unexpected: readonly string[];
  readonly snapshots: { readonly taken: number; readonly installed: number };
  /** Why some asked-for fault kinds could not be injected. */
  readonly notes: readonly string[];
  readonly passed: boolean;
  readonly reportFile: string;
  readonly seconds: number;
}

/** Heartbeat and election timings of verify's nodes: short, so that a short run sees many elections. */
const NODE_TIMING = [
  '--heartbeat-ms',
  '50',
  '--election-ms',
  '300',
  '--request-timeout-ms',
  '2000',
];

export async function runVerify(options: VerifyOptions): Promise<VerifyResult> {
  const started = performance.now();
  const now = () => performance.now() - started;
  const notes: string[] = [];
  const kinds = new Set(options.nemesis);
  let network: NamespaceNetwork | null = null;
  let cluster: VerifyCluster | null = null;
  let nemesis: Nemesis | null = null;
  const clients: RaftkitClient[] = [];
  let load: KvLoad | null = null;
  const problems: string[] = [];
  const external = options.endpoints !== undefined;
  const checkAborted = () => {
    if (options.signal?.aborted === true) throw new VerifyAbortedError();
  };
  // A folder of an earlier run holds its nodes' data: nodes started on it would not be a new
  // cluster (and its history would be mixed with this one's).
  if (existsSync(options.report) && readdirSync(options.report).length > 0) {
    throw new Error(`the report folder ${options.report} is not empty: give a new one (--report)`);
  }
  try {
    mkdirSync(options.report, { recursive: true });
    if (!external) {
      const orphans = stopOrphanedNodes();
      if (orphans > 0) options.log(`stopped ${orphans} nodes left running by an earlier run`);
      const unavailable = await namespacesUnavailable();
      if (unavailable === null) {
        const removed = await removeOrphans();
        if (removed.length > 0) {
          options.log(
            `removed ${removed.length} namespaces and links left by an earlier run: ${removed.join(' ')}`,
          );
        }
      }
      if (kinds.has('partition') && unavailable !== null) {
        notes.push(`no partitions: ${unavailable}; running on loopback without them`);
        options.log(`verify: ${notes[notes.length - 1]}`);
        kinds.delete('partition');
      }
      const spares = kinds.has('member') ? 2 : 0;
      // Namespaces whenever they can be made, so that the nodes are isolated from the host's
      // network in every run, with partitions or not.
      if (unavailable === null) network = await NamespaceNetwork.create(options.nodes + spares);
      const snapshotEntries = options.snapshotEntries ?? (kinds.has('snapshot') ? 200 : undefined);
      cluster = await VerifyCluster.create({
        nodes: options.nodes,
        spares,
        dir: options.report,
        network,
        nodeArgs: [
          ...NODE_TIMING,
          ...['--log-level', 'info', '--read-mode', options.readMode],
          ...(snapshotEntries === undefined
            ? []
            : ['--snapshot-entries', String(snapshotEntries), '--snapshot-keep-entries', '20']),
        ],
        env: kinds.has('clock') ? { RAFTKIT_TEST_HOOKS: 'clock' } : {},
        ...(options.bin === undefined ? {} : { bin: options.bin }),
      });
      checkAborted();
      cluster.startAll();
      if ((await cluster.agreedLeader(30_000)) === null) {
        throw new Error(
          'the cluster elected no leader within 30 s (see the node logs in the report folder)',
        );
      }
      options.log(
        `verify: ${options.nodes} nodes ${network === null ? 'on loopback' : 'in network namespaces'}, ` +
          `${options.clients} clients on ${options.keys} keys, nemesis ${[...kinds].join(',') || 'none'}, seed ${options.seed}`,
      );
    }
    const urls = external ? [...(options.endpoints as string[])] : (cluster as VerifyCluster).urls;
    const initial = external ? urls : urls.slice(0, options.nodes);
    // Half the clients talk to one node each (as Jepsen's do), so that what a follower
    // answers is checked too, and mostly read (a client waiting on a write sees nothing: the
    // reads are what shows a node answering from a stale state); the others find the leader
    // among every node and do the usual mix.
    const readShares: number[] = [];
    for (let c = 0; c < options.clients; c++) {
      const pinned = c % 2 === 0;
      const endpoints = pinned ? [initial[(c / 2) % initial.length] as string] : urls;
      clients.push(
        new RaftkitClient({
          endpoints,
          timeoutMs: 3000,
          attemptTimeoutMs: 1500,
          ...options.security,
        }),
      );
      readShares.push(pinned ? 0.8 : 0.35);
    }
    const keys = Array.from({ length: options.keys }, (_, i) => `k${i}`);
    load = new KvLoad(clients, seeded(options.seed), {
      keys,
      now,
      readShares,
      ...(options.rate === undefined ? {} : { rate: options.rate }),
    });
    if (cluster !== null && kinds.size > 0) {
      nemesis = new Nemesis(cluster, {
        kinds: [...kinds],
        faultIntervalMs: options.faultIntervalMs,
        random: seeded(options.seed + 1),
        now,
        network,
        leaseReads: options.readMode === 'lease',
        log: options.log,
      });
    }
    load.start();
    nemesis?.start();
    const end = options.seconds * 1000;
    while (now() < end) {
      await sleep(Math.min(1000, end - now()));
      checkAborted();
      const ops = load.ops;
      const failed = ops.filter((o) => o.outcome !== 'ok').length;
      options.progress(
        `${(now() / 1000).toFixed(0)}/${options.seconds} s: ${ops.length} operations, ${failed} failed or unknown, ` +
          `${nemesis?.faults.length ?? 0} faults`,
      );
    }
    await nemesis?.stop();
    await load.stop();
    options.log(`verify: load stopped at ${(now() / 1000).toFixed(1)} s; healing`);

    // Heal everything, then wait for the cluster to recover.
    if (cluster !== null) {
      await network?.heal();
      for (const s of cluster.members) {
        s.node?.resume();
        s.node?.start();
        if (kinds.has('clock')) await setClock(s.url, { rate: 1 }).catch(() => undefined);
      }
      // The members are those of the configuration in force, whatever the churn's calls
      // answered (a change that timed out may have happened): a node outside it is stopped
      // and takes no part in the checks.
      const removed = await cluster.reconcile(30_000);
      if (removed === null) {
        problems.push('no node answered with the configuration within 30 s of healing');
      } else if (removed.length > 0) {
        options.log(`verify: not members at the end, stopped: ${removed.join(', ')}`);
      }
      const leader = await cluster.agreedLeader(30_000);
      if (leader === null)
        problems.push('no leader that every member agrees on within 30 s of healing');
    }

    // The final reads: every key from every node (each through a client of its own).
    const members = cluster === null ? urls : cluster.members.map((s) => s.url);
    const readers = members.map(
      (url) =>
        new RaftkitClient({
          endpoints: [url],
          timeoutMs: 3000,
          attemptTimeoutMs: 1500,
          ...options.security,
        }),
    );
    clients.push(...readers);
    const unanswered = await load.finalReads(
      30_000,
      readers.map((client, i) => ({
        client,
        process: options.clients + i,
        name: members[i] as string,
      })),
    );
    problems.push(...unanswered.map((m) => `${m} within 30 s`));

    checkAborted();
    const history = load.history();
    options.log(`verify: checking ${history.length} operations`);
    const verdict = checkLinearizable(history, kvModel);
    const acked = load.acked();

    // Durability: every acknowledged write in every member's log.
    let durability: DurabilityReport[] | null = null;
    if (cluster !== null) {
      const top = Math.max(0, ...acked.map((o) => o.index as number));
      if (!(await cluster.applied(top, 20_000))) {
        problems.push(`not every member applied index ${top} (the last acknowledged) within 20 s`);
      }
      const stopped = cluster.members;
      for (const s of stopped) {
        const code = await s.node?.stop(10_000);
        if (code !== 0) problems.push(`${s.raft} did not stop cleanly (exit ${String(code)})`);
      }
      durability = [];
      for (const s of stopped) {
        durability.push(
          await checkDurable(s.raft, (s.node as NonNullable<Slot['node']>).dataDir, acked),
        );
      }
    }
    const lost = (durability ?? []).flatMap((d) => d.lost.map((l) => `${d.node}: ${l}`));
    await cluster?.close();
    const snapshots = cluster?.snapshotsLogged() ?? { taken: 0, installed: 0 };
    const counts = countOps(load.ops);
    const faults: Record<string, number> = {};
    for (const f of nemesis?.faults ?? []) if (f.ok) faults[f.kind] = (faults[f.kind] ?? 0) + 1;
    const passed = verdict.linearizable === true && lost.length === 0 && problems.length === 0;
    const result: VerifyResult = {
      verdict,
      ops: load.ops,
      counts,
      faults,
      durability,
      lost,
      problems,
      unexpected: load.unexpected,
      snapshots,
      notes,
      passed,
      reportFile: join(options.report, 'report.html'),
      seconds: now() / 1000,
    };
    writeReport(options.report, result, nemesis?.faults ?? [], {
      nodes: options.nodes,
      clients: options.clients + readers.length,
      seed: options.seed,
      nemesis: [...kinds],
      endpoints: external ? urls : null,
    });
    if (passed && cluster !== null && options.keepData !== true) {
      for (const s of cluster.slots) {
        for (let life = 1; life <= s.lives; life++) {
          const name = life === 1 ? `node${s.index + 1}` : `node${s.index + 1}-${life}`;
          rmSync(join(options.report, name), { recursive: true, force: true });
        }
      }
    }
    return result;
  } finally {
    // On every way out (Ctrl-C included): no client left looping, no node, no namespace.
    if (nemesis !== null) await nemesis.stop().catch(() => undefined);
    await load?.stop();
    for (const c of clients) c.close();
    await cluster?.killAll();
    await cluster?.close();
    await network?.destroy();
    forgetNodes();
  }
}

function countOps(ops: readonly Recorded[]): Record<string, Record<Outcome, number>> {
  const counts: Record<string, Record<Outcome, number>> = {};
  for (const o of ops) {
    const c = counts[o.input.op] ?? { ok: 0, fail: 0, unknown: 0 };
    counts[o.input.op] = c;
    c[o.outcome]++;
  }
  return counts;
}
