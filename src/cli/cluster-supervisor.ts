/**
 * @module
 * The processes of a local `raftkit cluster`, and the loopback control API the dashboard's
 * local controls reach them by (through any node, which forwards with the run's secret):
 *
 *   GET  /nodes                  → {"<id>": "running" | "paused" | "stopped" | "cut"}
 *   POST /nodes/:id/stop         SIGKILL: the node crashes, as in the seed's lab
 *   POST /nodes/:id/pause        SIGSTOP (a node that hangs: a long GC, a stuck disk)
 *   POST /nodes/:id/resume       SIGCONT
 *   POST /nodes/:id/restart      killed if running, then started again on its data
 *   POST /nodes/:id/cut | heal   its transport drops every message, or stops dropping
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { type LocalAction, localActions } from '../kv/index.js';
import {
  type ProcessState,
  SUPERVISOR_HEADER,
  SUPERVISOR_SECRET_ENV,
  SUPERVISOR_URL_ENV,
  secretMatches,
} from '../ui/index.js';
import type { Output } from './main.js';

export interface ProcessSpec {
  /** The node's id (its Raft address under `raftkit cluster`). */
  readonly id: string;
  /** How it is named in the output: node1, node2, ... */
  readonly name: string;
  readonly args: readonly string[];
  /** Its HTTP API, `host:port`: where a cut is sent. */
  readonly http: string;
}

interface Slot {
  readonly spec: ProcessSpec;
  child: ChildProcess | null;
  state: ProcessState;
  /** Its last exit was nobody's doing. */
  crashed: boolean;
  /** Set while the dashboard stops or restarts it: its exit is no failure. */
  expected: boolean;
  exited: Promise<void>;
}

export class LocalProcesses {
  readonly #slots: Slot[];
  readonly #output: Output;
  readonly #secret = randomBytes(24).toString('hex');
  readonly #server: http.Server;
  #stopping = false;
  #finish: () => void = () => {};
  readonly #finished = new Promise<void>((resolve) => {
    this.#finish = resolve;
  });
  /** Called when a process exits that nobody asked to stop. */
  onUnexpectedExit: (name: string, code: number | null, signal: string | null) => void = () => {};

  private constructor(specs: readonly ProcessSpec[], output: Output) {
    this.#output = output;
    this.#slots = specs.map((spec) => ({
      spec,
      child: null,
      state: 'stopped',
      crashed: false,
      expected: false,
      exited: Promise.resolve(),
    }));
    this.#server = http.createServer((req, res) => void this.#serve(req, res));
  }

  /** Listens on loopback, then starts every process with the way back in its environment. */
  static async start(specs: readonly ProcessSpec[], output: Output): Promise<LocalProcesses> {
    const processes = new LocalProcesses(specs, output);
    processes.#server.listen(0, '127.0.0.1');
    await once(processes.#server, 'listening');
    for (const slot of processes.#slots) processes.#spawn(slot);
    return processes;
  }

  get url(): string {
    const a = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${a.port}`;
  }

  states(): Record<string, ProcessState> {
    return Object.fromEntries(this.#slots.map((s) => [s.spec.id, s.state]));
  }

  /** Stops every process (SIGTERM, SIGKILL after 10 s) and waits for them; closes the API. */
  async stopAll(): Promise<void> {
    this.#stopping = true;
    for (const slot of this.#slots) {
      const c = slot.child;
      if (c === null || c.exitCode !== null || c.signalCode !== null) continue;
      slot.expected = true;
      // A paused process would not see SIGTERM until it runs again.
      if (slot.state === 'paused') c.kill('SIGCONT');
      c.kill('SIGTERM');
    }
    const kill = setTimeout(() => {
      for (const s of this.#slots) s.child?.kill('SIGKILL');
    }, 10_000);
    kill.unref();
    await Promise.all(this.#slots.map((s) => s.exited));
    clearTimeout(kill);
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#finish();
  }

  /**
   * Resolves once the cluster is over: stopped by `stopAll`, or every process exited on its
   * own (a node the dashboard stopped may be restarted from it: that is not the end).
   */
  finished(): Promise<void> {
    return this.#finished;
  }

  async act(id: string, action: LocalAction): Promise<{ status: number; body: unknown }> {
    const slot = this.#slots.find((s) => s.spec.id === id);
    if (slot === undefined) {
      return { status: 404, body: { error: `no node ${id} in this cluster`, code: 'not-found' } };
    }
    if (this.#stopping) {
      return { status: 409, body: { error: 'the cluster is stopping', code: 'stopping' } };
    }
    const running = slot.child !== null && slot.state !== 'stopped';
    switch (action) {
      case 'stop':
        if (running) await this.#kill(slot);
        break;
      case 'pause':
        if (!running) return notRunning(slot);
        slot.child?.kill('SIGSTOP');
        slot.state = 'paused';
        break;
      case 'resume':
        if (!running) return notRunning(slot);
        slot.child?.kill('SIGCONT');
        slot.state = 'running';
        break;
      case 'restart':
        if (running) await this.#kill(slot);
        this.#spawn(slot);
        break;
      case 'cut':
      case 'heal': {
        if (slot.state !== 'running' && slot.state !== 'cut') return notRunning(slot);
        const answer = await this.#cut(slot, action === 'cut');
        if (answer.status !== 200) return answer;
        slot.state = action === 'cut' ? 'cut' : 'running';
        break;
      }
    }
    this.#output.out(`${slot.spec.name}: ${action} (from the dashboard)\n`);
    return { status: 200, body: { id, action, state: slot.state } };
  }

  #spawn(slot: Slot): void {
    const child = spawn(process.execPath, [...slot.spec.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        [SUPERVISOR_URL_ENV]: this.url,
        [SUPERVISOR_SECRET_ENV]: this.#secret,
      },
    });
    slot.child = child;
    slot.state = 'running';
    slot.expected = false;
    slot.crashed = false;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) =>
        this.#output.out(`${slot.spec.name} | ${line}\n`),
      );
    }
    slot.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (slot.child === child) slot.state = 'stopped';
        if (!slot.expected && !this.#stopping) {
          slot.crashed = true;
          this.#output.out(`${slot.spec.name} exited (${signal ?? `code ${code}`})\n`);
          this.onUnexpectedExit(slot.spec.name, code, signal);
          if (this.#slots.every((s) => s.crashed)) void this.stopAll();
        }
        resolve();
      });
    });
  }

  async #kill(slot: Slot): Promise<void> {
    slot.expected = true;
    slot.child?.kill('SIGKILL');
    await slot.exited;
    slot.state = 'stopped';
  }

  async #cut(slot: Slot, on: boolean): Promise<{ status: number; body: unknown }> {
    try {
      const res = await fetch(`http://${slot.spec.http}/v1/cluster/self/cut`, {
        method: 'POST',
        headers: { [SUPERVISOR_HEADER]: this.#secret, 'content-type': 'application/json' },
        body: JSON.stringify({ cut: on }),
        signal: AbortSignal.timeout(3000),
      });
      return { status: res.status, body: await res.json() };
    } catch (e) {
      return {
        status: 502,
        body: { error: `${slot.spec.name} did not answer: ${(e as Error).message}`, code: 'node' },
      };
    }
  }

  async #serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    if (!secretMatches(req.headers[SUPERVISOR_HEADER], this.#secret)) {
      reply(403, { error: 'not from a node of this cluster', code: 'forbidden' });
      return;
    }
    const parts = (req.url ?? '/').split('?')[0]?.split('/') ?? [];
    if (req.method === 'GET' && parts.length === 2 && parts[1] === 'nodes') {
      reply(200, this.states());
      return;
    }
    const action = parts[3] as LocalAction;
    if (
      req.method === 'POST' &&
      parts.length === 4 &&
      parts[1] === 'nodes' &&
      localActions.includes(action)
    ) {
      let id: string;
      try {
        id = decodeURIComponent(parts[2] as string);
      } catch {
        reply(400, { error: 'bad node id', code: 'bad-request' });
        return;
      }
      const answer = await this.act(id, action);
      reply(answer.status, answer.body);
      return;
    }
    reply(404, { error: 'no such route', code: 'no-such-route' });
  }
}

function notRunning(slot: Slot): { status: number; body: unknown } {
  return {
    status: 409,
    body: { error: `${slot.spec.name} is ${slot.state}`, code: 'not-running' },
  };
}
