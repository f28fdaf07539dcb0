/**
 * Real `raftkit node` processes for fault tests: started, killed with SIGKILL, paused with
 * SIGSTOP, resumed, restarted on the same data directory and ports. Their output goes to a
 * log file per node, kept for a failing run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/raftkit.js');

export class NodeProcess {
  #child: ChildProcess | null = null;
  #paused = false;
  readonly #log: WriteStream;
  starts = 0;
  /** What the process printed on stdout, all its lives. */
  output = '';

  constructor(
    readonly index: number,
    readonly raft: string,
    readonly http: string,
    readonly peers: readonly string[],
    readonly dir: string,
    readonly extra: readonly string[] = [],
    /** Join a running cluster through these HTTP URLs instead of forming one with `peers`. */
    readonly joinUrls: readonly string[] | null = null,
  ) {
    this.#log = createWriteStream(join(dir, `node${index + 1}.out`), { flags: 'a' });
  }

  get url(): string {
    return `http://${this.http}`;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  get paused(): boolean {
    return this.#paused;
  }

  start(): void {
    if (this.#child !== null) return;
    this.starts++;
    const child = spawn(
      process.execPath,
      [
        bin,
        'node',
        ...['--listen', this.raft, '--http', this.http],
        ...(this.joinUrls === null
          ? ['--peers', this.peers.join(',')]
          : ['--join', this.joinUrls.join(',')]),
        ...['--data', join(this.dir, `node${this.index + 1}`), '--log-format', 'json'],
        ...this.extra,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.pipe(this.#log, { end: false });
    child.stderr?.pipe(this.#log, { end: false });
    child.stdout?.on('data', (c: Buffer) => {
      this.output += c.toString();
    });
    child.once('exit', () => {
      if (this.#child === child) this.#child = null;
    });
    this.#child = child;
    this.#paused = false;
  }

  /** SIGKILL, and waits until the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    if (this.#paused) child.kill('SIGCONT');
    this.#paused = false;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
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

  /** SIGTERM (a clean stop), then SIGKILL after `ms`. */
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

  close(): void {
    this.#log.end();
  }
}

/** GET /v1/status of a node, or null when it does not answer within `ms`. */
export async function statusOf(
  url: string,
  ms = 500,
): Promise<{
  role: string;
  leader: string | null;
  appliedIndex: number;
  commitIndex: number;
} | null> {
  try {
    const r = await fetch(`${url}/v1/status`, { signal: AbortSignal.timeout(ms) });
    return (await r.json()) as {
      role: string;
      leader: string | null;
      appliedIndex: number;
      commitIndex: number;
    };
  } catch {
    return null;
  }
}
