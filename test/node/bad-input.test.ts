/**
 * Garbage at a live cluster's sockets while it commits writes: random and truncated frames,
 * oversized length prefixes, hellos and messages from unknown senders, well-formed messages
 * with wrong terms from known ids. Every node must stay up, count what it dropped, and every
 * write that was acknowledged must be readable on every node at the end.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Message, ProposalDroppedError, seededRandom } from '../../src/core/index.js';
import { type RaftNode, startNode } from '../../src/node/index.js';
import { ObjectStore, ReplicatedMap } from '../../src/replicated/index.js';
import { clusterTag, encodeMessage, type Frame, lengthPrefix } from '../../src/transport/index.js';
import { freePorts } from '../support/ports.js';
import { fastTiming } from './support.js';

const tag = clusterTag('raftkit');
const random = seededRandom(4242);
const randomBytes = (n: number): Buffer =>
  Buffer.from(Array.from({ length: n }, () => random.int(256)));

/**
 * A well-formed message from `from` to `to`, of a random type, with a wrong term: mostly stale,
 * one in twenty ahead (which, unauthenticated, legitimately moves the cluster to a new term).
 */
function forged(from: string, to: string, term: number): Message {
  const t = random.int(20) === 0 ? term + 1 + random.int(2) : Math.max(1, term - random.int(3));
  switch (random.int(5)) {
    case 0:
      return {
        type: 'heartbeat',
        from,
        to,
        term: t,
        commit: random.int(1000),
        round: random.int(9),
      };
    case 1:
      return {
        type: 'vote',
        from,
        to,
        term: t + 1,
        preVote: random.int(2) === 0,
        lastIndex: random.int(100),
        lastTerm: 1,
        transfer: false,
      };
    case 2:
      return {
        type: 'append',
        from,
        to,
        term: t,
        prevIndex: random.int(50),
        prevTerm: 1,
        commit: random.int(80),
        entries: [{ index: 0, term: t, kind: 'command', data: randomBytes(8) }],
      } as unknown as Message;
    case 3:
      return {
        type: 'append-response',
        from,
        to,
        term: t,
        success: true,
        index: random.int(10_000),
        hintIndex: 0,
        hintTerm: 0,
      };
    default:
      return {
        type: 'read-index-response',
        from,
        to,
        term: t,
        context: String(random.int(50)),
        index: random.int(100),
      };
  }
}

/** Fixes up an append's entry indices so that it encodes (its meaning stays wrong). */
function encodable(m: Message): Frame {
  if (m.type !== 'append') return m;
  return {
    ...m,
    entries: m.entries.map((e, i) => ({
      ...e,
      index: m.prevIndex + 1 + i,
      term: Math.min(e.term, m.term),
    })),
  };
}

async function tcpAttack(
  port: number,
  ids: string[],
  victim: string,
  term: number,
  rounds: number,
): Promise<void> {
  const connect = (): Promise<net.Socket> =>
    new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.on('error', () => {});
    });
  for (let round = 0; round < rounds; round++) {
    const s = await connect();
    const kind = round % 5;
    const frames: Buffer[] = [];
    if (kind === 0) frames.push(randomBytes(1 + random.int(300)));
    if (kind === 1) frames.push(Buffer.from([0xff, 0xff, 0xff, 0xff]), randomBytes(64));
    if (kind === 2) {
      const body = encodeMessage({ type: 'hello', from: 'intruder:1', to: victim }, tag);
      frames.push(lengthPrefix(body), body);
    }
    if (kind === 3 || kind === 4) {
      // A hello that claims a member's id, then messages with wrong terms, garbage, a cut frame.
      const claimed = ids.find((id) => id !== victim) as string;
      const hello = encodeMessage({ type: 'hello', from: claimed, to: victim }, tag);
      frames.push(lengthPrefix(hello), hello);
      for (let i = 0; i < 20; i++) {
        const body =
          i % 4 === 3
            ? randomBytes(40)
            : encodeMessage(encodable(forged(claimed, victim, term)), tag);
        frames.push(lengthPrefix(body), body);
      }
      if (kind === 4) {
        const cut = encodeMessage(encodable(forged(claimed, victim, term)), tag);
        frames.push(lengthPrefix(cut), cut.subarray(0, cut.length >> 1));
      }
    }
    await new Promise<void>((resolve) => s.write(Buffer.concat(frames), () => resolve()));
    s.destroy();
  }
}

async function udpAttack(
  port: number,
  ids: string[],
  victim: string,
  term: number,
  count: number,
): Promise<void> {
  const socket = dgram.createSocket('udp4');
  const send = (b: Buffer): Promise<void> =>
    new Promise((resolve) => socket.send(b, port, '127.0.0.1', () => resolve()));
  for (let i = 0; i < count; i++) {
    const claimed = ids.find((id) => id !== victim) as string;
    const kind = i % 4;
    if (kind === 0) await send(randomBytes(1 + random.int(500)));
    if (kind === 1) await send(encodeMessage(encodable(forged('intruder:1', victim, term)), tag));
    if (kind === 2) await send(encodeMessage(encodable(forged(claimed, victim, term)), tag));
    if (kind === 3) {
      const b = encodeMessage(encodable(forged(claimed, victim, term)), tag);
      await send(b.subarray(0, random.int(b.length)));
    }
  }
  await new Promise<void>((r) => socket.close(() => r()));
}

for (const transport of ['tcp', 'udp'] as const) {
  test(`${transport}: garbage at a live node's port loses no acknowledged write and stops no node`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `raftkit-bad-${transport}-`));
    const ports = await freePorts(3);
    const ids = ports.map((p) => `127.0.0.1:${p}`);
    const nodes: RaftNode<ObjectStore>[] = [];
    try {
      for (const [i, id] of ids.entries()) {
        nodes.push(
          await startNode({
            address: id,
            peers: ids,
            dataDir: join(dir, `n${i}`),
            stateMachine: new ObjectStore(),
            transport,
            ...fastTiming,
          }),
        );
      }
      const acknowledged = new Map<string, number>();
      let failures = 0;
      const writer = (async () => {
        const deadline = performance.now() + 8000;
        for (let i = 0; i < 400 && performance.now() < deadline; i++) {
          const node = nodes[i % nodes.length] as RaftNode<ObjectStore>;
          try {
            await new ReplicatedMap<number>(node, 'acked').set(`k${i}`, i, { timeoutMs: 1000 });
            acknowledged.set(`k${i}`, i);
          } catch {
            failures++;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      })();
      const victim = nodes[0] as RaftNode<ObjectStore>;
      const port = ports[0] as number;
      if (transport === 'tcp') await tcpAttack(port, ids, victim.id, victim.term, 600);
      else await udpAttack(port, ids, victim.id, victim.term, 3000);
      await writer;
      assert.ok(
        acknowledged.size > 50,
        `only ${acknowledged.size} writes acknowledged (${failures} failed)`,
      );
      for (const n of nodes)
        assert.equal(n.running, true, `${n.id} stopped: ${n.failure?.message}`);
      // Every acknowledged write, on every node, through a linearizable read.
      for (const n of nodes) {
        const entries = new Map(
          await new ReplicatedMap<number>(n, 'acked').entries({ timeoutMs: 5000 }),
        );
        for (const [k, v] of acknowledged) assert.equal(entries.get(k), v, `${n.id} lost ${k}`);
      }
      if (transport === 'udp') {
        // An entry that could not fit a datagram is refused when proposed, never lost later.
        assert.ok(victim.maxCommandBytes < 65_507);
        await assert.rejects(
          new ReplicatedMap<string>(victim, 'acked').set('big', 'x'.repeat(70_000)),
          (e: unknown) => e instanceof ProposalDroppedError && e.reason === 'too-large',
        );
      }
      const dropped = victim.transportStats().dropped;
      const garbage =
        dropped.truncated +
        dropped.invalid +
        dropped.oversized +
        dropped['unknown-peer'] +
        dropped.version +
        dropped.cluster;
      assert.ok(
        garbage > 100,
        `only ${garbage} frames counted as dropped: ${JSON.stringify(dropped)}`,
      );
      t.diagnostic(
        `${acknowledged.size} writes acknowledged, ${failures} retried; victim dropped ${JSON.stringify(dropped)}`,
      );
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
