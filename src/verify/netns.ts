/**
 * @module
 * Real network partitions for `raftkit verify`: each node in a Linux network namespace of its
 * own, with two networks, each a bridge with one veth pair per node:
 *
 * - the Raft network (`10.X.2.0/24`): the nodes' peer traffic. The bridge has no address on
 *   the host, so nothing outside the namespaces reaches it. A partition is cut here.
 * - the client network (`10.X.1.0/24`): the HTTP API. The host end of this bridge has
 *   `10.X.1.254`, so the verifier's clients and checker see every node, partitioned or not.
 *
 * A cut between two nodes makes each send its frames for the other to a hardware address no
 * one has (a permanent neighbour entry): they are dropped silently on the wire, as in a real
 * partition (no error, no reset: TCP retransmits into the void), and healing deletes the
 * entries. Any shape is a set of cut pairs: a node isolated, a minority from a majority, a
 * bridge (two sides that only one node reaches).
 *
 * Names carry the pid of the process that made them (`rk<pid>n1`, `rk<pid>r`, ...), so that
 * a run that was killed leaves names the next run can recognise as orphaned and remove, with
 * any process still running inside them. Every command is `ip` (iproute2); root is needed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { alive } from './orphans.js';

const exec = promisify(execFile);

/** A hardware address that no interface has: frames sent to it go nowhere. */
const NOWHERE = '02:00:00:00:00:01';
/** Port numbers inside each namespace (each has its own). */
export const RAFT_PORT = 7000;
export const HTTP_PORT = 9000;

async function ip(...args: string[]): Promise<string> {
  const { stdout } = await exec('ip', args, { timeout: 10_000 });
  return stdout;
}

/** Why namespaces cannot be made here, or null when they can. */
export async function namespacesUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux')
    return `network namespaces need Linux (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'network namespaces need root (run as root for real partitions)';
  }
  try {
    await exec('ip', ['-V'], { timeout: 5000 });
  } catch {
    return 'the `ip` command (iproute2) is not installed';
  }
  return null;
}

const OURS = /^rk(\d+)([a-zA-Z]\d*\w*)$/;

/**
 * Removes the namespaces, links and bridges left by verify runs whose process is gone (a run
 * that was SIGKILLed cleans up nothing), killing what still runs inside them. Returns the
 * names removed.
 */
export async function removeOrphans(): Promise<string[]> {
  const removed: string[] = [];
  const namespaces = (await ip('netns', 'list'))
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');
  for (const name of namespaces) {
    const m = OURS.exec(name);
    if (m === null || alive(Number(m[1]))) continue;
    await killInside(name);
    await ip('netns', 'delete', name).catch(() => '');
    removed.push(name);
  }
  const links = (await ip('-o', 'link', 'show'))
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n !== '');
  for (const name of links) {
    const m = OURS.exec(name);
    if (m === null || alive(Number(m[1]))) continue;
    await ip('link', 'delete', name).catch(() => '');
    removed.push(name);
  }
  return removed;
}

/** SIGKILLs every process in namespace `name`. */
async function killInside(name: string): Promise<void> {
  const pids = (await ip('netns', 'pids', name).catch(() => ''))
    .split('\n')
    .map(Number)
    .filter((p) => p > 0);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** A free 10.X.0.0/16 for this run: X not in any route of the host. */
async function freeSubnet(): Promise<number> {
  const routes = await ip('-4', 'route', 'show', 'table', 'all');
  const used = new Set([...routes.matchAll(/\b10\.(\d+)\./g)].map((m) => Number(m[1])));
  const start = 100 + (process.pid % 100);
  for (let k = 0; k < 150; k++) {
    const x = 100 + ((start - 100 + k) % 150);
    if (!used.has(x)) return x;
  }
  throw new Error('no free 10.X.0.0/16 subnet for the verify networks');
}

export class NamespaceNetwork {
  readonly #prefix: string;
  readonly #subnet: number;
  readonly size: number;
  /** Pairs cut now, as "i-j" with i < j. */
  readonly #cut = new Set<string>();
  #destroyed = false;

  private constructor(prefix: string, subnet: number, size: number) {
    this.#prefix = prefix;
    this.#subnet = subnet;
    this.size = size;
  }

  /** Makes `size` namespaces (node slots) and both networks. Undoes what it made on failure. */
  static async create(size: number): Promise<NamespaceNetwork> {
    const net = new NamespaceNetwork(`rk${process.pid}`, await freeSubnet(), size);
    try {
      await net.#build();
    } catch (e) {
      await net.destroy();
      throw e;
    }
    return net;
  }

  namespace(i: number): string {
    return `${this.#prefix}n${i + 1}`;
  }
  raftAddress(i: number): string {
    return `10.${this.#subnet}.2.${i + 1}:${RAFT_PORT}`;
  }
  httpAddress(i: number): string {
    return `10.${this.#subnet}.1.${i + 1}:${HTTP_PORT}`;
  }
  /** The command a node of slot `i` runs under. */
  prefix(i: number): string[] {
    return ['ip', 'netns', 'exec', this.namespace(i)];
  }
  /** The pairs cut now. */
  get cut(): readonly (readonly [number, number])[] {
    return [...this.#cut].map((k) => k.split('-').map(Number) as [number, number]);
  }

  async #build(): Promise<void> {
    const p = this.#prefix;
    const s = this.#subnet;
    for (const [bridge, address] of [
      [`${p}r`, null],
      [`${p}c`, `10.${s}.1.254/24`],
    ] as const) {
      await ip('link', 'add', bridge, 'type', 'bridge');
      if (address !== null) await ip('addr', 'add', address, 'dev', bridge);
      await ip('link', 'set', bridge, 'up');
    }
    for (let i = 0; i < this.size; i++) {
      const ns = this.namespace(i);
      await ip('netns', 'add', ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      for (const [net, inner, octet] of [
        ['r', 'raft0', 2],
        ['c', 'client0', 1],
      ] as const) {
        const host = `${p}${net}${i + 1}`;
        await ip('link', 'add', host, 'type', 'veth', 'peer', 'name', inner, 'netns', ns);
        await ip('link', 'set', host, 'master', `${p}${net}`, 'up');
        await ip('-n', ns, 'addr', 'add', `10.${s}.${octet}.${i + 1}/24`, 'dev', inner);
        await ip('-n', ns, 'link', 'set', inner, 'up');
      }
    }
  }

  /** Cuts each pair (both directions); pairs already cut stay cut. */
  async partition(pairs: readonly (readonly [number, number])[]): Promise<void> {
    for (const [a, b] of pairs) {
      const key = a < b ? `${a}-${b}` : `${b}-${a}`;
      if (a === b || this.#cut.has(key)) continue;
      this.#cut.add(key);
      await this.#neighbour('replace', a, b);
      await this.#neighbour('replace', b, a);
    }
  }

  /** Mends every cut. */
  async heal(): Promise<void> {
    for (const [a, b] of this.cut) {
      await this.#neighbour('delete', a, b).catch(() => '');
      await this.#neighbour('delete', b, a).catch(() => '');
      this.#cut.delete(`${a}-${b}`);
    }
  }

  /** In `from`'s namespace, frames for `to`'s Raft address go nowhere (or, deleted, as usual). */
  #neighbour(op: 'replace' | 'delete', from: number, to: number): Promise<string> {
    const address = `10.${this.#subnet}.2.${to + 1}`;
    const args = ['-n', this.namespace(from), 'neigh', op, address];
    if (op === 'replace') args.push('lladdr', NOWHERE, 'nud', 'permanent');
    return ip(...args, 'dev', 'raft0');
  }

  /** Removes every namespace (killing what runs in it), link and bridge; idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (let i = 0; i < this.size; i++) {
      const ns = this.namespace(i);
      if (!existsSync(`/run/netns/${ns}`)) continue;
      await killInside(ns);
      await ip('netns', 'delete', ns).catch(() => '');
    }
    for (let i = 0; i < this.size; i++) {
      for (const net of ['r', 'c'])
        await ip('link', 'delete', `${this.#prefix}${net}${i + 1}`).catch(() => '');
    }
    for (const net of ['r', 'c'])
      await ip('link', 'delete', `${this.#prefix}${net}`).catch(() => '');
  }

  /** Whether anything of this network is left (for tests). */
  static async leftovers(pid: number): Promise<string[]> {
    const prefix = `rk${pid}`;
    const names = [
      ...(await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0] ?? ''),
      ...(await ip('-o', 'link', 'show'))
        .split('\n')
        .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? ''),
    ];
    return names.filter((n) => n.startsWith(prefix) && OURS.exec(n)?.[1] === String(pid));
  }
}
