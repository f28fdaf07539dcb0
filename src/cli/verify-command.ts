/**
 * @module
 * `raftkit verify`: starts a cluster of real nodes, runs clients against it while a nemesis
 * injects faults, and checks that the history is linearizable and that nothing acknowledged
 * was lost (`--endpoints`: the same clients and checks against a running cluster). Exit 0
 * only when both hold; the last line says the verdict.
 */
import { randomInt } from 'node:crypto';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  type NemesisKind,
  nemesisKinds,
  runVerify,
  VerifyAbortedError,
  type VerifyResult,
} from '../verify/index.js';
import { clientSecurity, withClientSecurity } from './client-flags.js';
import type { Output } from './main.js';
import { positiveInteger } from './parse.js';

interface VerifyFlags {
  nodes: number;
  seconds: number;
  nemesis: NemesisKind[];
  faultInterval: number;
  clients: number;
  keys: number;
  rate?: number;
  report?: string;
  endpoints?: string[];
  cacert?: string;
  cert?: string;
  key?: string;
  tokenFile?: string;
  seed?: number;
  readMode: 'index' | 'lease';
  snapshotEntries?: number;
  keepData?: boolean;
  nodeBin?: string;
}

function clusterSize(value: string): number {
  const n = positiveInteger(value);
  if (n !== 3 && n !== 5 && n !== 7) throw new InvalidArgumentError('expected 3, 5 or 7.');
  return n;
}

function nemesisList(value: string): NemesisKind[] {
  if (value === 'all') return [...nemesisKinds];
  if (value === 'none') return [];
  const kinds = value.split(',').map((k) => k.trim());
  for (const k of kinds) {
    if (!(nemesisKinds as readonly string[]).includes(k)) {
      throw new InvalidArgumentError(
        `expected a list of ${nemesisKinds.join(', ')}; or all, or none (not ${JSON.stringify(k)}).`,
      );
    }
  }
  return [...new Set(kinds)] as NemesisKind[];
}

function urls(value: string): string[] {
  const list = value
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  if (list.length === 0) throw new InvalidArgumentError('expected URL[,URL...].');
  for (const u of list) {
    try {
      new URL(u.includes('://') ? u : `http://${u}`);
    } catch {
      throw new InvalidArgumentError(`not a URL: ${u}.`);
    }
  }
  return list;
}

function seconds(value: string): number {
  const n = positiveInteger(value);
  if (n > 24 * 3600) throw new InvalidArgumentError('expected at most 86400 seconds.');
  return n;
}

export function verifyCommand(output: Output, setExit: (code: number) => void): Command {
  // With --endpoints: how to reach a secured cluster's API.
  return withClientSecurity(new Command('verify'))
    .description(
      'test a cluster under faults (kills, pauses, real network partitions, membership changes, snapshots, clock skew) and check linearizability and durability',
    )
    .option('--nodes <n>', 'cluster size: 3, 5 or 7', clusterSize, 3)
    .option('--seconds <s>', 'how long the clients and the faults run', seconds, 60)
    .option(
      '--nemesis <kinds>',
      `faults: a list of ${nemesisKinds.join(', ')}; or all, or none`,
      nemesisList,
      [...nemesisKinds],
    )
    .option('--fault-interval <ms>', 'time between faults (± half)', positiveInteger, 3000)
    .option('--clients <n>', 'concurrent clients', positiveInteger, 6)
    .option('--keys <n>', 'keys the clients share', positiveInteger, 5)
    .option(
      '--rate <ops>',
      'total operations a second (default: closed loop, as fast as answered)',
      positiveInteger,
    )
    .option('--report <dir>', 'report folder (default ./raftkit-verify/<time>)')
    .option(
      '--endpoints <url,...>',
      'check this running cluster instead (no nemesis of its own)',
      urls,
    )
    .option(
      '--seed <n>',
      "the clients' and the nemesis's choices (default random)",
      positiveInteger,
    )
    .addOption(
      new Option('--read-mode <mode>', "the nodes' linearizable reads")
        .choices(['index', 'lease'])
        .default('index'),
    )
    .option(
      '--snapshot-entries <n>',
      "the nodes' --snapshot-entries (default 200 with the snapshot nemesis)",
      positiveInteger,
    )
    .option(
      '--keep-data',
      "keep the nodes' data directories in the report folder when the run passes",
    )
    .addOption(
      new Option(
        '--node-bin <file>',
        'the raftkit command line the nodes run (another build)',
      ).hideHelp(),
    )
    .action(async (flags: VerifyFlags) => {
      setExit(await verify(flags, output));
    });
}

async function verify(flags: VerifyFlags, output: Output): Promise<number> {
  const seed = flags.seed ?? randomInt(1, 2 ** 31);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const report = resolve(flags.report ?? `raftkit-verify/${stamp}`);
  const tty = process.stderr.isTTY === true;
  let lastProgress = 0;
  let progressShown = false;
  const clearProgress = () => {
    if (tty && progressShown) process.stderr.write('\r\u001b[2K');
    progressShown = false;
  };
  const abort = new AbortController();
  const onSignal = () => {
    output.err('\nraftkit verify: interrupted; stopping the nodes and removing what verify made\n');
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let result: VerifyResult;
  try {
    result = await runVerify({
      nodes: flags.nodes,
      seconds: flags.seconds,
      nemesis: flags.endpoints === undefined ? flags.nemesis : [],
      faultIntervalMs: flags.faultInterval,
      clients: flags.clients,
      keys: flags.keys,
      report,
      seed,
      readMode: flags.readMode,
      signal: abort.signal,
      ...(flags.rate === undefined ? {} : { rate: flags.rate }),
      ...(flags.endpoints === undefined
        ? {}
        : { endpoints: flags.endpoints, security: clientSecurity(flags) }),
      ...(flags.snapshotEntries === undefined ? {} : { snapshotEntries: flags.snapshotEntries }),
      ...(flags.keepData === true ? { keepData: true } : {}),
      ...(flags.nodeBin === undefined ? {} : { bin: resolve(flags.nodeBin) }),
      progress: (line) => {
        if (tty) {
          process.stderr.write(`\r\u001b[2K${line}`);
          progressShown = true;
        } else if (performance.now() - lastProgress >= 10_000) {
          lastProgress = performance.now();
          output.out(`${line}\n`);
        }
      },
      log: (line) => {
        clearProgress();
        output.out(`${line}\n`);
      },
    });
  } catch (e) {
    clearProgress();
    if (e instanceof VerifyAbortedError) {
      output.err(`raftkit verify: ${e.message}\n`);
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  clearProgress();
  output.out(summaryText(result, flags.endpoints !== undefined));
  return result.passed ? 0 : 1;
}

/** The summary, ending with the verdict line. */
export function summaryText(r: VerifyResult, external: boolean): string {
  const lines: string[] = [];
  const total = { ok: 0, fail: 0, unknown: 0 };
  lines.push('operations (ok / failed / unknown outcome):');
  for (const [op, c] of Object.entries(r.counts)) {
    lines.push(`  ${op.padEnd(4)} ${c.ok} / ${c.fail} / ${c.unknown}`);
    total.ok += c.ok;
    total.fail += c.fail;
    total.unknown += c.unknown;
  }
  const faults = Object.entries(r.faults).map(([k, n]) => `${k} ${n}`);
  lines.push(`faults: ${faults.length === 0 ? 'none' : faults.join(', ')}`);
  for (const note of r.notes) lines.push(`note: ${note}`);
  lines.push(
    `snapshots: ${r.snapshots.taken} written, ${r.snapshots.installed} installed from a leader`,
  );
  if (r.unexpected.length > 0) {
    lines.push(`unexpected errors (${r.unexpected.length}), first: ${r.unexpected[0]}`);
  }
  const v = r.verdict;
  if (v.linearizable === true) {
    lines.push(`checker: linearizable (${v.partitions} keys, ${v.steps} search steps)`);
  } else if (v.linearizable === false) {
    lines.push(`checker: NOT linearizable (${v.partitions} keys, ${v.steps} search steps):`);
    for (const l of v.explanation.split('\n')) lines.push(`  ${l}`);
  } else {
    lines.push(
      `checker: gave up after ${v.steps} search steps (the history is too hard to decide)`,
    );
  }
  if (r.durability === null) {
    lines.push(
      external
        ? "durability: the nodes' logs are not on this machine; acknowledged writes checked through the final reads only"
        : 'durability: not checked',
    );
  } else {
    for (const d of r.durability) {
      lines.push(
        `durability: ${d.node}: ${d.found} acknowledged writes at their index, ${d.inSnapshot} in its snapshot, ${d.lost.length} lost`,
      );
    }
  }
  for (const l of r.lost.slice(0, 10)) lines.push(`LOST: ${l}`);
  for (const p of r.problems) lines.push(`problem: ${p}`);
  lines.push(`report: ${r.reportFile}`);
  const counts = `${total.ok + total.fail + total.unknown} operations (${total.ok} ok, ${total.fail} failed, ${total.unknown} unknown), ${Object.values(r.faults).reduce((a, b) => a + b, 0)} faults, ${r.lost.length} acknowledged writes lost`;
  const verdict =
    v.linearizable === true
      ? r.passed
        ? 'linearizable'
        : `linearizable, but FAILED (${r.lost.length > 0 ? 'acknowledged writes lost' : r.problems.join('; ')})`
      : v.linearizable === false
        ? 'NOT linearizable'
        : 'NOT verified: the checker gave up';
  lines.push(`${verdict}: ${counts}`);
  return `${lines.join('\n')}\n`;
}
