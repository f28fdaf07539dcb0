/**
 * @module
 * A node's data directory. Its layout keeps the three files a raftos node left behind
 * recognisable, and says so in its own identity file:
 *
 *     DIR/raftkit.json       what this directory is, whose it is, and this very layout
 *     DIR/log/00000001.log   the write-ahead log in segments           (raftos: .log)
 *     DIR/hard-state.json    term, vote and commit index               (raftos: .storage)
 *     DIR/state_machine/     snapshots of the applied state (later)    (raftos: .state_machine)
 *     DIR/LOCK               the pid of the process writing here
 */
import { NotADataDirError } from './errors.js';
import { type FileSystem, joinPath } from './file-system.js';
import { HARD_STATE_FILE } from './hard-state-file.js';

export const IDENTITY_FILE = 'raftkit.json';
export const LOG_DIR = 'log';
export const STATE_MACHINE_DIR = 'state_machine';
const FORMAT = 'raftkit data directory';
const VERSION = 1;

export const LAYOUT: Readonly<Record<string, string>> = {
  'raftkit.json': 'this file: what the directory is, whose, and of which cluster',
  'log/': 'write-ahead log, segments of CRC-framed records (raftos: .log)',
  'hard-state.json': 'term, vote and commit index, replaced atomically (raftos: .storage)',
  'state_machine/': 'snapshots of the applied state (raftos: .state_machine)',
  LOCK: 'pid of the process that has the directory open for writing',
};

export interface Identity {
  /** The node this directory belongs to, if it was named when created. */
  readonly id: string | null;
  /**
   * The identity its cluster drew when it first formed, once this node has learnt it (from
   * the log); null before. A node refuses peers of another identity.
   */
  readonly cluster: string | null;
}

/** Reads the identity file; throws `NotADataDirError` if `dir` is not a data directory. */
export async function readIdentity(fs: FileSystem, dir: string): Promise<Identity> {
  if (!(await fs.isDirectory(dir))) {
    const what = (await fs.readFile(dir)) === undefined ? 'no such directory' : 'it is a file';
    throw new NotADataDirError(dir, what);
  }
  const bytes = await fs.readFile(joinPath(dir, IDENTITY_FILE));
  if (bytes === undefined) throw new NotADataDirError(dir, `it has no ${IDENTITY_FILE}`);
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new NotADataDirError(dir, `${IDENTITY_FILE} is not JSON`);
  }
  const d = document as Record<string, unknown> | null;
  if (d?.format !== FORMAT) {
    throw new NotADataDirError(dir, `${IDENTITY_FILE} does not say "format": "${FORMAT}"`);
  }
  if (d.version !== VERSION) {
    throw new NotADataDirError(
      dir,
      `format version ${String(d.version)}, this raftkit reads ${VERSION}`,
    );
  }
  if (d.cluster !== undefined && (typeof d.cluster !== 'string' || d.cluster === '')) {
    throw new NotADataDirError(dir, `${IDENTITY_FILE} has a "cluster" that is not an identity`);
  }
  return {
    id: typeof d.id === 'string' ? d.id : null,
    cluster: typeof d.cluster === 'string' ? d.cluster : null,
  };
}

/** Names a directory may hold and still count as new (a crash may have cut its creation). */
const FRESH_NAMES = new Set([
  LOG_DIR,
  `${IDENTITY_FILE}.tmp`,
  'LOCK',
  HARD_STATE_FILE,
  `${HARD_STATE_FILE}.tmp`,
]);

/**
 * Checks that `dir` may be opened for writing: a data directory (of node `id`, if given), or a
 * directory that does not exist or holds nothing yet. Returns whether it must be created.
 * A non-empty directory without an identity file is refused: it belongs to something else.
 */
export async function checkDataDir(fs: FileSystem, dir: string, id?: string): Promise<boolean> {
  const names = await fs.list(dir);
  if (names === undefined && (await fs.readFile(dir)) !== undefined) {
    throw new NotADataDirError(dir, 'it is a file');
  }
  if (names === undefined || !names.includes(IDENTITY_FILE)) {
    const logNames = (await fs.list(joinPath(dir, LOG_DIR))) ?? [];
    if ((names ?? []).every((n) => FRESH_NAMES.has(n)) && logNames.length === 0) return true;
  }
  const identity = await readIdentity(fs, dir);
  if (id !== undefined && identity.id !== null && identity.id !== id) {
    throw new NotADataDirError(dir, `it belongs to node ${identity.id}, not ${id}`);
  }
  return false;
}

/** Makes `dir` a data directory: its identity file (atomically) and its log directory. */
export async function createDataDir(fs: FileSystem, dir: string, id: string | null): Promise<void> {
  await fs.mkdir(joinPath(dir, LOG_DIR));
  await writeIdentity(fs, dir, { id, cluster: null });
}

/** Replaces the identity file atomically: temporary file, fsync, rename, directory fsync. */
export async function writeIdentity(
  fs: FileSystem,
  dir: string,
  identity: Identity,
): Promise<void> {
  const cluster = identity.cluster === null ? {} : { cluster: identity.cluster };
  const document = {
    format: FORMAT,
    version: VERSION,
    id: identity.id,
    ...cluster,
    layout: LAYOUT,
  };
  const path = joinPath(dir, IDENTITY_FILE);
  const handle = await fs.open(`${path}.tmp`, 'create');
  await handle.write(new TextEncoder().encode(`${JSON.stringify(document, null, 2)}\n`), 0);
  await handle.sync();
  await handle.close();
  await fs.rename(`${path}.tmp`, path);
  await fs.syncDirectory(dir);
}
