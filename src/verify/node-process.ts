/**
 * @module
 * One real `raftkit node` process of a verify run (and of the fault tests): started, killed
 * with SIGKILL, paused with SIGSTOP, resumed, stopped cleanly, restarted on the same data
 * directory and addresses. It may run inside a network namespace (`ip netns exec`, which execs
 * the node in place: the pid signalled is the node's). Its output goes to a log file of its
 * own, appended to across its lives.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled command line of this package. */
export const raftkitBin = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/raftkit.js');

export interface NodeProcessOptions {
  /** 0-based; names the data directory `node<index+1>` and the log `node<index+1>.out`. */
  readonly index: number;
  /** The Raft address (`--listen`), which is also the id. */
  readonly raft: string;
  /** The HTTP address (`--http`), as the node binds it. */
  readonly http: string;
  /** Where clients reach the HTTP API (default `http://<http>`). */
  readonly url?: string;
  /** The members of a new cluster (`--peers`); ignored with `join`. */
  readonly peers: readonly string[];
  /** Where data directories and logs go. */
  readonly dir: string;
  readonly extra?: readonly string[];
  /** Join a running cluster through these HTTP URLs instead of forming one with `peers`. */
  readonly join?: readonly string[];
  /** A command the node runs under (`['ip', 'netns', 'exec', NAME]`). */
  readonly prefix?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** The raftkit command line to run (default: this package's). */
  readonly bin?: string;
  /** The data directory's name under `dir` (default `node<index+1>`). */
  readonly dataName?: string;
  /** Called with the pid of each process started. */
  readonly onStart?: (pid: number) => void;
}

export class NodeProcess {
  #child: ChildProcess | null = null;
  #paused = false;
  readonly #log: WriteStream;
  readonly o: NodeProcessOptions;
  starts = 0;
  /** What the process printed on stdout, all its lives. */
  output = '';

  constructor(options: NodeProcessOptions) {
    this.o = options;
    this.#log = createWriteStream(this.logFile, { flags: 'a' });
  }

  get index(): number {
    return this.o.index;
  }
  get raft(): string {
    return this.o.raft;
  }
  get http(): string {
    return this.o.http;
  }
  get url(): string {
    return this.o.url ?? `http://${this.o.http}`;
  }
  get dataDir(): string {
    return join(this.o.dir, this.o.dataName ?? `node${this.o.index + 1}`);
  }
  get logFile(): string {
    return join(this.o.dir, `node${this.o.index + 1}.out`);
  }
  get running(): boolean {
    return this.#child !== null;
  }
  get paused(): boolean {
    return this.#paused;
  }
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  start(): void {
    if (this.#child !== null) return;
    this.starts++;
    const o = this.o;
    const args = [
      o.bin ?? raftkitBin,
      'node',
      ...['--listen', o.raft, '--http', o.http],
      ...(o.join === undefined ? ['--peers', o.peers.join(',')] : ['--join', o.join.join(',')]),
      ...['--data', this.dataDir, '--log-format', 'json'],
      ...(o.extra ?? []),
    ];
    const [command, ...prefixArgs] = [...(o.prefix ?? []), process.execPath];
    appendFileSync(this.logFile, `--- start ${this.starts} at ${new Date().toISOString()}\n`);
    // The log (stderr) goes straight to the file: nothing is lost if this process is busy
    // or dies, and a node outliving it is not stopped by a broken pipe.
    const logFd = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(command as string, [...prefixArgs, ...args], {
        stdio: ['ignore', 'pipe', logFd],
        env: { ...process.env, ...o.env },
      });
    } finally {
      closeSync(logFd);
    }
    child.stdout?.pipe(this.#log, { end: false });
    child.stdout?.on('data', (c: Buffer) => {
      this.output += c.toString();
    });
    child.once('exit', () => {
      if (this.#child === child) {
        this.#child = null;
        this.#paused = false;
      }
    });
    this.#child = child;
    this.#paused = false;
    if (child.pid !== undefined) o.onStart?.(child.pid);
  }

  /** SIGKILL, and waits until the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    if (this.#paused) child.kill('SIGCONT');
    this.#paused = false;
    await gone;
  }

  pause(): void {
    if (this.#child === null || this.#paused) return;
    this.#child.kill('SIGSTOP');
    this.#paused = true;
  }

  resume(): void {
    if (this.#child === null || !this.#paused) return;
    this.#child.kill('SIGCONT');
    this.#paused = false;
  }

  /** SIGTERM (a clean stop), then SIGKILL after `ms`. Resolves with the exit code. */
  async stop(ms = 5000): Promise<number | null> {
    const child = this.#child;
    if (child === null) return null;
    this.resume();
    const gone = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    const code = await gone;
    clearTimeout(timer);
    return code;
  }

  /** Resolves once the process has exited (at once if it is not running). */
  exited(ms: number): Promise<boolean> {
    const child = this.#child;
    if (child === null) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Ends the log file; resolves once it is written out. */
  close(): Promise<void> {
    if (this.#log.writableFinished) return Promise.resolve();
    return new Promise((resolve) => {
      this.#log.once('finish', () => resolve());
      this.#log.once('error', () => resolve());
      this.#log.end();
    });
  }
}

export interface StatusSnapshot {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly appliedIndex: number;
  readonly commitIndex: number;
  readonly members: readonly string[];
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
}

/** GET /v1/status of a node, or null when it does not answer within `ms`. */
export async function statusOf(url: string, ms = 500): Promise<StatusSnapshot | null> {
  try {
    const r = await fetch(`${url}/v1/status`, { signal: AbortSignal.timeout(ms) });
    return (await r.json()) as StatusSnapshot;
  } catch {
    return null;
  }
}
