/**
 * One suite for every transport: in memory, TCP, TCP over TLS, TCP and UDP with a shared
 * secret, plain UDP. Each must deliver every message type both ways between three members,
 * refuse frames of another cluster or another key, carry what fits and refuse what does not,
 * and close cleanly. TCP must also find a restarted peer again.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type Frame,
  MemoryNetwork,
  TcpTransport,
  type Transport,
  UdpTransport,
  type WireMessage,
  type WireSecurity,
} from '../../src/transport/index.js';
import { eventually, freePorts } from '../support/ports.js';
import { sampleFrames } from './codec.test.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/tls');
const pem = (name: string): string => readFileSync(join(fixtures, name), 'utf8');
const nodeTls = { cert: pem('node.pem'), key: pem('node.key'), ca: pem('ca.pem') };

type Make = (ids: string[], ports: number[], security: WireSecurity, index: number) => Transport;

interface Kind {
  readonly name: string;
  readonly make: Make;
  readonly security?: WireSecurity;
  readonly datagram?: boolean;
}

const peersOf = (ids: string[], ports: number[]): Record<string, string> =>
  Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));

let network = new MemoryNetwork();
/** A TCP or UDP transport for member `i`, with `extra` options. */
const socketMaker =
  (Transport: typeof TcpTransport | typeof UdpTransport, extra: object = {}): Make =>
  (ids, ports, security, i) =>
    new Transport({
      id: ids[i] as string,
      listen: `127.0.0.1:${ports[i]}`,
      peers: peersOf(ids, ports),
      ...extra,
      ...security,
    });

const secret = { secret: 'a shared secret of some length' };
const kinds: Kind[] = [
  { name: 'memory', make: (ids, _p, security, i) => network.transport(ids[i] as string, security) },
  { name: 'tcp', make: socketMaker(TcpTransport) },
  { name: 'tcp+tls', make: socketMaker(TcpTransport, { tls: nodeTls }) },
  { name: 'tcp+secret', security: secret, make: socketMaker(TcpTransport) },
  { name: 'udp', datagram: true, make: socketMaker(UdpTransport) },
  { name: 'udp+secret', datagram: true, security: secret, make: socketMaker(UdpTransport) },
];

const ids = ['a', 'b', 'c'];

class Group {
  readonly transports: Transport[] = [];
  readonly inbox = new Map<string, WireMessage[]>(ids.map((id) => [id, []]));

  static async start(
    kind: Kind,
    ports: number[],
    security: (i: number) => WireSecurity = () => kind.security ?? {},
  ): Promise<Group> {
    const g = new Group();
    for (const [i, id] of ids.entries()) {
      const t = kind.make(ids, ports, security(i), i);
      await t.start((m) => g.inbox.get(id)?.push(m));
      g.transports.push(t);
    }
    return g;
  }

  async close(): Promise<void> {
    await Promise.all(this.transports.map((t) => t.close()));
  }
}

/** Sends `m` until it arrives (connections come up asynchronously; datagrams may be lost). */
async function deliver(g: Group, m: WireMessage): Promise<WireMessage> {
  const from = g.transports[ids.indexOf(m.from)] as Transport;
  const inbox = g.inbox.get(m.to) as WireMessage[];
  const deadline = performance.now() + 5000;
  for (;;) {
    from.send(m);
    const until = performance.now() + 50;
    while (performance.now() < until) {
      const got = inbox.shift();
      if (got !== undefined) return got;
      await new Promise((r) => setTimeout(r, 2));
    }
    if (performance.now() > deadline)
      throw new Error(`${m.type} from ${m.from} to ${m.to} never arrived`);
  }
}

const readdress = (f: WireMessage, from: string, to: string): WireMessage =>
  ({ ...f, from, to }) as WireMessage;

for (const kind of kinds) {
  test(`${kind.name}: every message type arrives intact, both ways`, async () => {
    network = new MemoryNetwork();
    const g = await Group.start(kind, await freePorts(3));
    try {
      const messages = sampleFrames.filter((f): f is WireMessage => f.type !== 'hello');
      for (const [from, to] of [
        ['a', 'b'],
        ['c', 'a'],
        ['b', 'c'],
      ] as const) {
        for (const m of messages) {
          const sent = readdress(m, from, to);
          assert.deepEqual(await deliver(g, sent), sent, `${m.type} ${from}->${to}`);
        }
      }
      // b sent every type once (to c); a received every type once (from c), counted by type.
      const types = [...new Set(messages.map((m) => m.type))].sort();
      const perType = Object.fromEntries(
        types.map((t) => [t, messages.filter((m) => m.type === t).length]),
      );
      const b = g.transports[1]?.stats();
      const a = g.transports[0]?.stats();
      assert.deepEqual(
        Object.fromEntries(Object.entries(b?.sentByType ?? {}).filter(([t]) => t !== 'hello')),
        perType,
      );
      assert.deepEqual(
        Object.fromEntries(Object.entries(a?.receivedByType ?? {}).filter(([t]) => t !== 'hello')),
        perType,
      );
    } finally {
      await g.close();
    }
  });

  test(`${kind.name}: frames of another cluster or another key are refused and counted`, async () => {
    network = new MemoryNetwork();
    const base = kind.security ?? {};
    const odd: WireSecurity =
      base.secret === undefined
        ? { ...base, clusterId: 'other' }
        : { ...base, secret: 'a different secret, also long' };
    const g = await Group.start(kind, await freePorts(3), (i) => (i === 2 ? odd : base));
    try {
      const hb: WireMessage = {
        type: 'heartbeat',
        from: 'c',
        to: 'a',
        term: 1,
        commit: 0,
        round: 0,
      };
      const c = g.transports[2] as Transport;
      const a = g.transports[0] as Transport;
      // Over TCP, a dials c: c refuses a's hello. Over UDP and memory, a refuses c's frame.
      await eventually(() => {
        c.send(hb);
        return [a, c].some((t) => t.stats().dropped.cluster + t.stats().dropped.auth > 0);
      }, 'a refusal to be counted');
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(g.inbox.get('a'), []);
      // The two members that agree still talk.
      const ok: WireMessage = { ...hb, from: 'b' };
      assert.deepEqual(await deliver(g, ok), ok);
    } finally {
      await g.close();
    }
  });

  test(`${kind.name}: a message too large to carry is refused, one that fits arrives`, async () => {
    network = new MemoryNetwork();
    const g = await Group.start(kind, await freePorts(3));
    try {
      const a = g.transports[0] as Transport;
      const size = Math.min(a.maxMessageBytes - 1024, 1024 * 1024);
      const append = (bytes: number): WireMessage => ({
        type: 'append',
        from: 'a',
        to: 'b',
        term: 1,
        prevIndex: 0,
        prevTerm: 0,
        commit: 0,
        entries: [{ index: 1, term: 1, kind: 'command', data: new Uint8Array(bytes).fill(7) }],
      });
      const got = await deliver(g, append(size));
      assert.equal(got.type === 'append' && got.entries[0]?.data.byteLength, size);
      a.send(append(a.maxMessageBytes));
      assert.equal(a.stats().dropped['too-large'], 1);
    } finally {
      await g.close();
    }
  });

  test(`${kind.name}: close is idempotent and a closed transport sends nothing`, async () => {
    network = new MemoryNetwork();
    const ports = await freePorts(3);
    const g = await Group.start(kind, ports);
    const a = g.transports[0] as Transport;
    await a.close();
    await a.close();
    const sent = a.stats().messagesSent;
    a.send({ type: 'timeout-now', from: 'a', to: 'b', term: 1 });
    assert.equal(a.stats().messagesSent, sent);
    await g.close();
    // Every socket was released: the same ports can be bound again at once.
    const again = await Group.start(kind, ports);
    await again.close();
  });
}

test('tcp: one connection per pair of peers, used both ways', async () => {
  const g = await Group.start(kinds[1] as Kind, await freePorts(3));
  try {
    for (const [from, to] of [
      ['a', 'b'],
      ['b', 'a'],
      ['b', 'c'],
      ['c', 'b'],
      ['a', 'c'],
      ['c', 'a'],
    ]) {
      const m: WireMessage = {
        type: 'timeout-now',
        from: from as string,
        to: to as string,
        term: 1,
      };
      await deliver(g, m);
    }
    // Three pairs, three connections: each member holds exactly one to each of its two peers.
    for (const t of g.transports) assert.equal((t as TcpTransport).stats().connections, 2);
  } finally {
    await g.close();
  }
});

test('tcp: messages sent in one turn of the event loop leave in one write', async () => {
  const g = await Group.start(kinds[1] as Kind, await freePorts(3));
  const proto = net.Socket.prototype as unknown as {
    _writev: (this: unknown, chunks: unknown[], ...rest: unknown[]) => unknown;
  };
  const original = proto._writev;
  const batches: number[] = [];
  try {
    const first: WireMessage = { type: 'timeout-now', from: 'a', to: 'b', term: 1 };
    await deliver(g, first);
    proto._writev = function (this: unknown, chunks: unknown[], ...rest: unknown[]) {
      batches.push(chunks.length);
      return original.call(this, chunks, ...rest);
    };
    const a = g.transports[0] as Transport;
    for (let i = 0; i < 100; i++) a.send({ ...first, term: i + 1 });
    await eventually(() => (g.inbox.get('b')?.length ?? 0) === 100, 'the hundred messages');
    // One writev of 200 buffers (a length prefix and a body each), not a hundred writes.
    assert.deepEqual(batches, [200]);
  } finally {
    proto._writev = original;
    await g.close();
  }
});

test('tcp: a peer that does not read gets at most maxQueueBytes; the rest is dropped and counted', async () => {
  const stuck = new Set<net.Socket>();
  const server = net.createServer((s) => {
    s.pause(); // accepts, never reads
    stuck.add(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const [own] = await freePorts(1);
  const maxQueueBytes = 1024 * 1024;
  const a = new TcpTransport({
    id: 'a',
    listen: `127.0.0.1:${own}`,
    peers: { b: `127.0.0.1:${port}` },
    maxQueueBytes,
  });
  await a.start(() => {});
  try {
    await eventually(() => a.stats().connections === 1, 'a connection to the slow peer');
    const data = new Uint8Array(256 * 1024);
    for (let i = 0; i < 200; i++) {
      a.send({
        type: 'append',
        from: 'a',
        to: 'b',
        term: 1,
        prevIndex: i,
        prevTerm: 1,
        commit: 0,
        entries: [{ index: i + 1, term: 1, kind: 'command', data }],
      });
    }
    const { dropped, messagesSent, bytesSent } = a.stats();
    assert.ok(dropped.backpressure >= 190, `only ${dropped.backpressure} dropped`);
    assert.equal(messagesSent + dropped.backpressure, 201); // and the hello
    assert.ok(bytesSent <= maxQueueBytes + data.length + 1024, `${bytesSent} bytes queued`);
  } finally {
    await a.close();
    for (const s of stuck) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('tcp: a restarted peer is dialled again and messages flow', async () => {
  const ports = await freePorts(3);
  const kind = kinds[1] as Kind;
  const g = await Group.start(kind, ports);
  try {
    const m: WireMessage = { type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0, round: 0 };
    await deliver(g, m);
    await g.transports[1]?.close();
    const b = kind.make(ids, ports, {}, 1);
    await b.start((x) => g.inbox.get('b')?.push(x));
    g.transports[1] = b;
    assert.deepEqual(await deliver(g, m), m);
    // And the accepting side answers over the connection the dialler made.
    const back: WireMessage = { type: 'heartbeat-response', from: 'b', to: 'a', term: 1, round: 0 };
    assert.deepEqual(await deliver(g, back), back);
  } finally {
    await g.close();
  }
});

test('tcp: peers added and dropped while running; a joining node knows nobody at first', async () => {
  const [pa, pb, pc] = (await freePorts(3)) as [number, number, number];
  const addr = (p: number) => `127.0.0.1:${p}`;
  const inbox: WireMessage[] = [];
  // a and b form a cluster; c starts knowing no one, accepting whoever connects first.
  const a = new TcpTransport({ id: 'a', listen: addr(pa), peers: { b: addr(pb) } });
  const b = new TcpTransport({ id: 'b', listen: addr(pb), peers: { a: addr(pa) } });
  const c = new TcpTransport({ id: 'c', listen: addr(pc), peers: {}, acceptUnknownPeers: true });
  await Promise.all([a, b, c].map((t) => t.start((m) => inbox.push(m))));
  const beat = (from: string, to: string): WireMessage => ({
    type: 'heartbeat',
    from,
    to,
    term: 1,
    commit: 0,
    round: 0,
  });
  const arrives = async (t: TcpTransport, m: WireMessage) => {
    await eventually(() => {
      t.send(m);
      return inbox.some((x) => x.from === m.from && x.to === m.to);
    }, `${m.from} -> ${m.to}`);
    inbox.length = 0;
  };
  try {
    // b (the larger id) is told of c and dials it: c was added while running.
    b.updatePeers({ a: addr(pa), c: addr(pc) });
    await arrives(b, beat('b', 'c'));
    await arrives(c, beat('c', 'b')); // c answers on the connection b opened
    c.updatePeers({ b: addr(pb) });
    // b goes away, and a new, empty node takes its address (a replacement: it knows no one):
    // c, which knew b only by the connection b had opened, must dial it now.
    await b.close();
    const b2 = new TcpTransport({ id: 'b', listen: addr(pb), peers: {}, acceptUnknownPeers: true });
    await b2.start((m) => inbox.push(m));
    try {
      await arrives(c, beat('c', 'b'));
      // Dropped from the peers, a node is no longer reached.
      c.updatePeers({});
      const before = c.stats().dropped['unknown-peer'];
      c.send(beat('c', 'b'));
      assert.equal(c.stats().dropped['unknown-peer'], before + 1);
    } finally {
      await b2.close();
    }
  } finally {
    await Promise.all([a.close(), c.close()]);
  }
});

test('udp: a joining node answers a peer it does not know where it came from', async () => {
  const [pa, pc] = (await freePorts(2)) as [number, number];
  const got: WireMessage[] = [];
  const a = new UdpTransport({ id: 'a', listen: `127.0.0.1:${pa}`, peers: {} });
  const c = new UdpTransport({
    id: 'c',
    listen: `127.0.0.1:${pc}`,
    peers: {},
    acceptUnknownPeers: true,
  });
  await a.start((m) => got.push(m));
  await c.start((m) => got.push(m));
  try {
    a.updatePeers({ c: `127.0.0.1:${pc}` });
    const m: WireMessage = { type: 'heartbeat', from: 'a', to: 'c', term: 1, commit: 0, round: 0 };
    await eventually(() => {
      a.send(m);
      return got.some((x) => x.to === 'c');
    }, 'a -> c');
    a.updatePeers({ c: `127.0.0.1:${pc}` });
    const back: WireMessage = { type: 'heartbeat-response', from: 'c', to: 'a', term: 1, round: 0 };
    // a does not know c yet as a sender: it accepts only its peers (it has c), so it does.
    await eventually(() => {
      c.send(back);
      return got.some((x) => x.to === 'a');
    }, 'c -> a');
  } finally {
    await Promise.all([a.close(), c.close()]);
  }
});

test('tcp+tls: a peer whose certificate another authority signed is refused', async () => {
  const ports = await freePorts(3);
  const stranger = { cert: pem('stranger.pem'), key: pem('stranger.key'), ca: pem('ca.pem') };
  const make = (i: number, tls: typeof nodeTls): TcpTransport =>
    new TcpTransport({
      id: ids[i] as string,
      listen: `127.0.0.1:${ports[i]}`,
      peers: peersOf(ids, ports),
      tls,
    });
  const a = make(0, nodeTls);
  const b = make(1, stranger);
  const got: Frame[] = [];
  await a.start((m) => got.push(m));
  await b.start((m) => got.push(m));
  try {
    // a dials b: b's certificate fails a's check, and b refuses a's (another CA signed it? no:
    // b trusts the right CA, but a refuses b). Either way nothing passes and it is counted.
    await eventually(() => a.stats().dropped.auth + b.stats().dropped.auth > 0, 'a TLS refusal');
    a.send({ type: 'timeout-now', from: 'a', to: 'b', term: 1 });
    b.send({ type: 'timeout-now', from: 'b', to: 'a', term: 1 });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(got, []);
  } finally {
    await a.close();
    await b.close();
  }
});
