/**
 * The built `raftkit` bin for tests that run it as a user does: one command to its end, or
 * a long-running one stopped the way its children are stopped with it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePortRange } from './ports.js';

export const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/raftkit.js');

export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `raftkit ...args` to its end (20 s at most): its exit code and output. */
export function raftkit(...args: string[]): Promise<Ran> {
  return raftkitWithin(20_000, args);
}

/** Runs `raftkit ...args`, killed after `timeoutMs`. */
export async function raftkitWithin(timeoutMs: number, args: readonly string[]): Promise<Ran> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], {
      timeout: timeoutMs,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * Stops a `raftkit cluster` (or node) with SIGTERM, so that it stops its own children, and
 * SIGKILLs it if it has not exited within `ms`. A SIGKILLed supervisor would orphan them.
 */
export async function stopTree(child: ChildProcess, ms = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await gone;
  clearTimeout(timer);
}

/**
 * Resolves with `child`'s output so far once `pattern` appears in it (stdout, and stderr
 * too with `both`); rejects after `ms` with what it printed.
 */
export function outputMatching(
  child: ChildProcess,
  pattern: RegExp,
  ms: number,
  both = false,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const streams = [child.stdout, ...(both ? [child.stderr] : [])];
    const timer = setTimeout(() => {
      for (const s of streams) s?.off('data', onData);
      reject(new Error(`no ${pattern} in ${ms} ms:\n${text}`));
    }, ms);
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (pattern.test(text)) {
        clearTimeout(timer);
        for (const s of streams) s?.off('data', onData);
        resolve(text);
      }
    };
    for (const s of streams) s?.on('data', onData);
  });
}

/** A `raftkit cluster` of three on free ports, in a directory of its own, up to its dashboard line. */
export interface LocalCluster {
  readonly child: ChildProcess;
  readonly dir: string;
  /** The nodes' HTTP URLs, node1 first. */
  readonly urls: readonly string[];
  /** The dashboard's URL, as `raftkit cluster` printed it. */
  readonly dashboard: string;
  /** Stops it and its nodes, and removes its directory. */
  stop(): Promise<void>;
}

export async function startLocalCluster(extra: readonly string[] = []): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-cluster-'));
  const base = await freePortRange(6);
  const child = spawn(
    process.execPath,
    [bin, 'cluster', '--base-port', String(base), '--http-base-port', String(base + 3)].concat(
      ['--data', dir],
      extra,
    ),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stop = async () => {
    await stopTree(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const text = await outputMatching(child, /^dashboard: (http:\/\/\S+)$/m, 20_000);
    const dashboard = (text.match(/^dashboard: (http:\/\/\S+)$/m) as RegExpMatchArray)[1] as string;
    const urls = [0, 1, 2].map((i) => `http://127.0.0.1:${base + 3 + i}`);
    return { child, dir, urls, dashboard, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
