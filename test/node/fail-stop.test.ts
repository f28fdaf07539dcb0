/**
 * An assertion is a broken invariant wherever it fails: on the tick and message paths the node
 * stopped; under a user's call (`propose`, a forwarded proposal, a read) it used to become a
 * rejected promise or a refusal sent to a follower while the node ran on in a broken state.
 *
 * The broken invariant here is planted with a storage that breaks its contract on purpose:
 * once armed, its last index moves back by one at every call, which the core's log asserts
 * against when it appends.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AssertionError } from '../../src/core/index.js';
import { encodeTagged } from '../../src/node/command.js';
import type { RaftNode } from '../../src/node/index.js';
import type { DurableStorage, StorageUpdate } from '../../src/storage/index.js';
import { type MemoryTransport, WireCodec } from '../../src/transport/index.js';
import { encode, type ListMachine, TestCluster } from './support.js';

class LyingStorage implements DurableStorage {
  readonly #inner: DurableStorage;
  #armed = false;
  #told = 0;

  constructor(inner: DurableStorage) {
    this.#inner = inner;
  }

  /** From now on, every call to lastIndex() answers one less than the call before. */
  arm(): void {
    this.#armed = true;
    this.#told = this.#inner.lastIndex();
  }

  disarm(): void {
    this.#armed = false;
  }

  lastIndex(): number {
    if (!this.#armed) return this.#inner.lastIndex();
    return this.#told--;
  }

  save = (u: StorageUpdate) => this.#inner.save(u);
  hardState = () => this.#inner.hardState();
  firstIndex = () => this.#inner.firstIndex();
  term = (i: number) => this.#inner.term(i);
  entries = (lo: number, hi: number, max: number) => this.#inner.entries(lo, hi, max);
  durableIndex = () => this.#inner.durableIndex();
  snapshot = () => this.#inner.snapshot();
  configIndexes = () => this.#inner.configIndexes();
  close = () => this.#inner.close();
}

async function cluster(): Promise<{
  c: TestCluster;
  leader: RaftNode<ListMachine>;
  storage: LyingStorage;
  transport: MemoryTransport;
}> {
  const c = new TestCluster(3);
  const storages = new Map<string, LyingStorage>();
  for (const id of c.ids) {
    await c.startNode(
      id,
      {},
      {
        storage: (s: DurableStorage) => {
          const lying = new LyingStorage(s);
          storages.set(id, lying);
          return lying;
        },
      },
    );
  }
  const leader = await c.leader();
  await leader.propose(encode('warm-up'));
  // Every save done, so that the core reads its last index from the storage.
  await c.applied(1);
  return {
    c,
    leader,
    storage: storages.get(leader.id) as LyingStorage,
    transport: c.transports.get(leader.id) as MemoryTransport,
  };
}

/** The error the node stops with, or 'still running' after two seconds. */
function stopped(node: RaftNode<ListMachine>): Promise<Error | null | 'still running'> {
  if (!node.running) return Promise.resolve(node.failure);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still running'), 2000);
    node.once('stopped', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

test('an assertion that fails under propose() stops the node, and the call fails with it', async () => {
  const { c, leader, storage } = await cluster();
  try {
    const down = stopped(leader);
    storage.arm();
    const proposal = leader.propose(encode('x')).catch((e: Error) => e);
    storage.disarm();
    assert.ok((await proposal) instanceof AssertionError, 'the proposal fails with the assertion');
    const reason = await down;
    assert.ok(reason instanceof AssertionError, `stopped with ${String(reason)}`);
    assert.equal(leader.failure, reason);
  } finally {
    await c.stop();
  }
});

test('an assertion that fails on a forwarded proposal stops the leader; no refusal is sent', async () => {
  const { c, leader, storage, transport } = await cluster();
  try {
    const down = stopped(leader);
    const follower = c.followers()[0] as RaftNode<ListMachine>;
    const forward = new WireCodec({ now: () => 0 }).encode({
      type: 'forward',
      from: follower.id,
      to: leader.id,
      id: 1,
      term: leader.term,
      commands: [encodeTagged(encode('y'), follower.id, 7, 1)],
    });
    storage.arm();
    transport.receive(forward, follower.id);
    storage.disarm();
    const reason = await down;
    assert.ok(reason instanceof AssertionError, `stopped with ${String(reason)}`);
    assert.equal(transport.stats().sentByType['forward-refusal'], undefined);
  } finally {
    await c.stop();
  }
});
