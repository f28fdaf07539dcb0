/**
 * @module
 * Backup and restore, as etcd's `etcdctl snapshot save` and `etcdutl snapshot restore`:
 *
 * - `raftkit snapshot save FILE`: the cluster (its leader, preferably) takes a snapshot of
 *   everything committed when asked and streams it; FILE is written under a temporary name,
 *   read back and checked whole (every checksum, and the key-value state parsed), fsynced, and
 *   only then given its name. A backup is a snapshot file byte for byte, so `raftkit inspect`
 *   and the node read it as they read their own.
 * - `raftkit snapshot restore FILE --data DIR --id ID [--peers ...]`: checks FILE the same
 *   way, then makes DIR (new or empty) a data directory that starts from it: its snapshot, a
 *   log that begins after it, and the configuration of the new cluster. A damaged file is
 *   refused with the offset and what was expected there; nothing is written.
 *
 * A restored cluster is a new cluster: its identity is drawn anew (the same for every member
 * restored from one file), so the old cluster's members, still running somewhere, cannot talk
 * to it.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Command } from 'commander';
import { type MembershipSpec, membership, type SnapshotMeta } from '../core/index.js';
import { KvStore } from '../kv/index.js';
import { type NodeSnapshotHeader, readNodeSnapshot, withNodeHeader } from '../node/index.js';
import {
  FileStorage,
  NodeFileSystem,
  type SnapshotFile,
  SnapshotReader,
} from '../storage/index.js';
import { type ClientFlags, using, withClient } from './client-flags.js';
import type { Output } from './main.js';
import { hostPort } from './parse.js';

/** What a backup file holds, once checked. */
export interface BackupContents {
  readonly meta: SnapshotMeta;
  readonly header: NodeSnapshotHeader;
  /** Bytes of state (the node's header line and the key-value state). */
  readonly bytes: number;
  readonly keys: number;
  /** SHA-256 of the state, hex: the seed of a restored cluster's identity. */
  readonly digest: string;
}

function reader(file: string): SnapshotReader {
  const path = resolve(file);
  return new SnapshotReader(new NodeFileSystem(), dirname(path), basename(path));
}

/**
 * Reads `file` whole and checks it: the snapshot file's framing and checksums (a damaged byte
 * throws `CorruptionError` with the offset and what was expected), the node's header line, and
 * the key-value state itself, restored into a store that is then dropped.
 */
export async function checkBackup(file: string): Promise<BackupContents> {
  if (!existsSync(file)) throw new Error(`no such file: ${file}`);
  const hash = createHash('sha256');
  const chunks = reader(file).chunks();
  // One pass: every chunk hashed as the state parser reads it; the reader's return value,
  // once the end record is checked, is what the file holds.
  let whole: SnapshotFile | null = null;
  const next = async () => {
    const n = await chunks.next();
    if (n.done === true) whole = n.value;
    else hash.update(n.value);
    return n;
  };
  const counted = (async function* () {
    for (let n = await next(); n.done !== true; n = await next()) yield n.value;
  })();
  const { header, state } = await readNodeSnapshot(counted);
  const store = new KvStore();
  await store.restoreSnapshot(state);
  // To the end record, whatever the state's parser left unread.
  while (whole === null) await next();
  const { meta, bytes } = whole as SnapshotFile;
  return { meta, header, bytes, keys: store.size, digest: hash.digest('hex') };
}

export function snapshotCommand(output: Output): Command {
  const snapshot = new Command('snapshot').description(
    'backups: raftkit snapshot save FILE, raftkit snapshot restore FILE --data DIR --id ID',
  );
  snapshot.addCommand(
    withClient(new Command('save'), 60_000)
      .description('stream a consistent snapshot of the cluster into FILE (checked before kept)')
      .argument('<file>', 'the backup file to write (must not exist)')
      .action((file: string, flags: ClientFlags) => save(file, flags, output)),
  );
  snapshot.addCommand(
    new Command('restore')
      .description('make DIR a data directory of a new cluster that starts from the backup FILE')
      .argument('<file>', 'a backup written by raftkit snapshot save')
      .requiredOption('--data <dir>', 'the new data directory (absent or empty)')
      .requiredOption('--id <id>', "this node's id in the new cluster")
      .option(
        '--peers <[id=]host:port,...>',
        "the new cluster's voters and their raft addresses (an id defaults to its address; default: the backup's members)",
        peerList,
      )
      .action((file: string, flags: RestoreFlags) => restore(file, flags, output)),
  );
  return snapshot;
}

async function save(file: string, flags: ClientFlags, output: Output): Promise<void> {
  if (existsSync(file)) throw new Error(`${file} exists already; not replaced`);
  const partial = `${file}.part`;
  await using(flags, async (client) => {
    const { index, term, endpoint, body } = await client.snapshot();
    try {
      await pipeline(body, createWriteStream(partial, { flags: 'wx', mode: 0o600 }));
      const handle = await open(partial, 'r+');
      await handle.sync();
      await handle.close();
      const contents = await checkBackup(partial);
      if (contents.meta.index !== index || contents.meta.term !== term) {
        throw new Error(
          `the node said it sent the snapshot at ${index} (term ${term}); the file holds ${contents.meta.index} (term ${contents.meta.term})`,
        );
      }
      renameSync(partial, file);
      const dir = await open(dirname(resolve(file)), 'r');
      await dir.sync().finally(() => dir.close());
      output.out(
        `${JSON.stringify({
          file,
          index,
          term,
          bytes: contents.bytes,
          keys: contents.keys,
          voters: contents.meta.membership.voters,
          from: endpoint,
        })}\n`,
      );
    } catch (e) {
      rmSync(partial, { force: true });
      body.destroy();
      throw e;
    }
  });
}

interface RestoreFlags {
  data: string;
  id: string;
  peers?: Record<string, string>;
}

function peerList(value: string): Record<string, string> {
  const peers: Record<string, string> = {};
  for (const item of value.split(',').map((p) => p.trim())) {
    if (item === '') continue;
    const eq = item.lastIndexOf('=');
    const address = hostPort(eq < 0 ? item : item.slice(eq + 1));
    const id = eq < 0 ? address : item.slice(0, eq);
    if (id === '' || id in peers)
      throw new Error(`--peers names ${JSON.stringify(id)} twice or empty`);
    peers[id] = address;
  }
  if (Object.keys(peers).length === 0) throw new Error('--peers needs one member or more');
  return peers;
}

async function restore(file: string, flags: RestoreFlags, output: Output): Promise<void> {
  // The directory first: a mistake there costs nothing to find.
  if (existsSync(flags.data) && readdirSync(flags.data).length > 0) {
    throw new Error(`${flags.data} is not empty; restore into a new directory`);
  }
  const contents = await checkBackup(file);
  const old = contents.meta.membership;
  const spec: MembershipSpec =
    flags.peers === undefined
      ? { voters: old.voters, ...(old.addresses === undefined ? {} : { addresses: old.addresses }) }
      : { voters: Object.keys(flags.peers), addresses: flags.peers };
  if (!spec.voters.includes(flags.id)) {
    throw new Error(
      `${flags.id} is not one of the new cluster's voters (${spec.voters.join(', ')}): give --peers with it, or the right --id`,
    );
  }
  membership(spec); // validates
  // Every member restored from this file draws the same identity, and none the old one's.
  const cluster = createHash('sha256')
    .update(`raftkit restore\n${contents.header.cluster ?? ''}\n${contents.digest}`)
    .digest('hex')
    .slice(0, 16);
  const meta: SnapshotMeta = {
    index: contents.meta.index,
    term: contents.meta.term,
    membership: spec,
  };
  const storage = await FileStorage.open(flags.data, { id: flags.id });
  try {
    const source = reader(file).chunks();
    const { state } = await readNodeSnapshot(source);
    const header = { ...contents.header, cluster };
    const written: SnapshotFile = await storage.writeSnapshot(meta, withNodeHeader(header, state));
    await storage.save({
      snapshot: written,
      entries: [],
      hardState: { term: meta.term, vote: null, commit: meta.index },
      sync: true,
    });
    await storage.bindCluster(cluster);
    await storage.close();
  } catch (e) {
    // Half a restore must not be started: it would be an empty node of a new cluster. The
    // directory was absent or empty before.
    await storage.close().catch(() => {});
    rmSync(flags.data, { recursive: true, force: true });
    throw e;
  }
  output.out(
    `${JSON.stringify({
      data: flags.data,
      id: flags.id,
      index: meta.index,
      term: meta.term,
      keys: contents.keys,
      voters: spec.voters,
      addresses: spec.addresses ?? {},
      cluster,
    })}\n`,
  );
  const address = spec.addresses?.[flags.id] ?? flags.id;
  output.err(
    `raftkit snapshot restore: start it with raftkit node --id ${flags.id} --listen ${address} --data ${flags.data} --peers ${spec.voters.map((v) => spec.addresses?.[v] ?? v).join(',')} (restore every member from the same file)\n`,
  );
}
