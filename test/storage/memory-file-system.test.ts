/**
 * The memory disk's crash model, which the crash tests and the simulator rely on: synced
 * data survives, unsynced writes survive only as a prefix (the last possibly torn), renames
 * and creations need a directory sync, handles die with the crash.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Random, seededRandom } from '../../src/core/index.js';
import { MemoryFileSystem } from '../../src/storage/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b);

/** A Random that returns the given numbers in turn (clamped to the bound). */
function scripted(...values: number[]): Random {
  return { int: (bound) => Math.min(values.shift() ?? 0, bound - 1) };
}

async function fileWith(fs: MemoryFileSystem, path: string, synced: string): Promise<void> {
  await fs.mkdir('/d');
  const h = await fs.open(path, 'create');
  await h.write(bytes(synced), 0);
  await h.sync();
  await fs.syncDirectory('/d');
}

describe('memory file system', () => {
  test('synced writes survive a crash; unsynced ones are lost', async () => {
    const fs = new MemoryFileSystem();
    await fileWith(fs, '/d/f', 'synced');
    const h = await fs.open('/d/f', 'write');
    await h.write(bytes('+more'), 6);
    assert.equal(text(await fs.readFile('/d/f')), 'synced+more');
    fs.crash(scripted(0)); // keep none of the unsynced writes
    assert.equal(text(await fs.readFile('/d/f')), 'synced');
  });

  test('a prefix of unsynced writes may survive, the last torn at any byte', async () => {
    const fs = new MemoryFileSystem();
    await fileWith(fs, '/d/f', 'a');
    const h = await fs.open('/d/f', 'write');
    await h.write(bytes('bb'), 1);
    await h.write(bytes('cccc'), 3);
    await h.write(bytes('dd'), 7);
    fs.crash(scripted(2, 0, 3)); // keep two writes; tear the second after 3 bytes
    assert.equal(text(await fs.readFile('/d/f')), 'abbccc');
  });

  test('unsynced overwrites and truncations are undone exactly', async () => {
    const fs = new MemoryFileSystem();
    await fileWith(fs, '/d/f', 'hello world');
    const h = await fs.open('/d/f', 'write');
    await h.truncate(5);
    await h.write(bytes('HELLO, there'), 0);
    await h.truncate(3);
    fs.crash(scripted(0));
    assert.equal(text(await fs.readFile('/d/f')), 'hello world');
  });

  test('a created or renamed file needs a directory sync to survive', async () => {
    const fs = new MemoryFileSystem();
    await fileWith(fs, '/d/old', 'old');
    const h = await fs.open('/d/new.tmp', 'create');
    await h.write(bytes('new'), 0);
    await h.sync();
    await fs.rename('/d/new.tmp', '/d/old');
    assert.equal(text(await fs.readFile('/d/old')), 'new');
    fs.crash(scripted(0));
    assert.equal(text(await fs.readFile('/d/old')), 'old');
    assert.equal(await fs.readFile('/d/new.tmp'), undefined);

    const again = await fs.open('/d/new.tmp', 'create');
    await again.write(bytes('new'), 0);
    await again.sync();
    await fs.rename('/d/new.tmp', '/d/old');
    await fs.syncDirectory('/d');
    fs.crash(seededRandom(1));
    assert.equal(text(await fs.readFile('/d/old')), 'new');
    assert.deepEqual(await fs.list('/d'), ['old']);
  });

  test('handles opened before a crash fail; locks are released', async () => {
    const fs = new MemoryFileSystem();
    await fileWith(fs, '/d/f', 'x');
    const h = await fs.open('/d/f', 'write');
    await fs.lock('/d');
    await assert.rejects(fs.lock('/d'), /already open/);
    fs.crash(seededRandom(2));
    await assert.rejects(h.write(bytes('y'), 1), /crashed/);
    assert.throws(() => h.readSync(0, 1), /crashed/);
    const release = await fs.lock('/d');
    await release();
  });

  test('injected faults fail the next operation of their kind', async () => {
    const fs = new MemoryFileSystem();
    await fileWith(fs, '/d/f', 'x');
    const h = await fs.open('/d/f', 'write');
    fs.injectFault('sync', new Error('EIO'));
    await h.write(bytes('y'), 1);
    await assert.rejects(h.sync(), /EIO/);
    await h.sync();
  });
});
