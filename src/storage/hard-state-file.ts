/**
 * @module
 * The hard state file (raftos kept term and vote in `.storage`): one small JSON document,
 * replaced atomically. It is written to a temporary file, fsynced, renamed over the old one,
 * and the directory is fsynced, so after a crash it is either the old state or the new one,
 * never a mix. A checksum over its fields catches damage a JSON parser would accept.
 *
 *     {"format":"raftkit hard state","version":1,"term":3,"vote":"127.0.0.1:8001","commit":42,"crc32":...}
 *
 * Term and vote change rarely (elections), so this costs two fsyncs only then; the commit
 * index, which moves with every batch, travels in the write-ahead log instead.
 */
import { crc32 } from 'node:zlib';
import type { HardState } from '../core/index.js';
import { CorruptionError } from './errors.js';
import { type FileSystem, joinPath } from './file-system.js';

export const HARD_STATE_FILE = 'hard-state.json';
const FORMAT = 'raftkit hard state';
const VERSION = 1;

function fieldsChecksum(state: HardState): number {
  return crc32(JSON.stringify([state.term, state.vote, state.commit]));
}

export async function writeHardState(fs: FileSystem, dir: string, state: HardState): Promise<void> {
  const path = joinPath(dir, HARD_STATE_FILE);
  const document = {
    format: FORMAT,
    version: VERSION,
    term: state.term,
    vote: state.vote,
    commit: state.commit,
    crc32: fieldsChecksum(state),
  };
  const handle = await fs.open(`${path}.tmp`, 'create');
  try {
    await handle.write(new TextEncoder().encode(`${JSON.stringify(document)}\n`), 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(`${path}.tmp`, path);
  await fs.syncDirectory(dir);
}

/** The stored hard state; `undefined` if there is no file. Damage throws `CorruptionError`. */
export async function readHardState(fs: FileSystem, dir: string): Promise<HardState | undefined> {
  const bytes = await fs.readFile(joinPath(dir, HARD_STATE_FILE));
  if (bytes === undefined) return undefined;
  const fail = (detail: string): never => {
    throw new CorruptionError(HARD_STATE_FILE, 0, detail);
  };
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    return fail(`expected a JSON document (${(err as Error).message})`);
  }
  const d = document as Record<string, unknown> | null;
  if (typeof d !== 'object' || d === null || d.format !== FORMAT || d.version !== VERSION) {
    return fail(`expected {"format":"${FORMAT}","version":${VERSION},...}`);
  }
  const { term, vote, commit } = d;
  if (
    !Number.isSafeInteger(term) ||
    (term as number) < 0 ||
    !(vote === null || (typeof vote === 'string' && vote.length > 0)) ||
    !Number.isSafeInteger(commit) ||
    (commit as number) < 0
  ) {
    return fail(
      'expected a term and commit that are integers >= 0 and a vote that is null or an id',
    );
  }
  const state: HardState = {
    term: term as number,
    vote: vote as string | null,
    commit: commit as number,
  };
  if (d.crc32 !== fieldsChecksum(state)) {
    return fail(`expected crc32 ${fieldsChecksum(state)} of its fields, found ${String(d.crc32)}`);
  }
  return state;
}
