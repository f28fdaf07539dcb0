/**
 * @module
 * What `raftkit inspect DIR` prints: a node's hard state and log as plain JSON, read without
 * changing a byte (a torn tail is reported, not cut; no lock is taken), so a person can look
 * at a stopped node the way raftos users opened its `.log`, `.storage` and `.state_machine`.
 */
import { decodeConfig, type Entry, membershipSpec } from '../core/index.js';
import { LAYOUT, readIdentity } from './data-dir.js';
import { FileStorage } from './file-storage.js';
import type { FileSystem } from './file-system.js';
import { NodeFileSystem } from './node-file-system.js';
import type { SnapshotFile } from './snapshot-file.js';

export interface InspectOptions {
  readonly fs?: FileSystem;
  /** First and last index of the entries to list; default the whole log. */
  readonly from?: number;
  readonly to?: number;
  /** Describes a command entry's data; default: as text when printable, else base64. */
  readonly describe?: (data: Uint8Array) => Record<string, unknown>;
}

/** An entry's data as text when it is valid UTF-8 without control characters, else base64. */
export function describeData(data: Uint8Array): { text: string } | { base64: string } {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the point
    if (!/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text)) return { text };
  } catch {
    // not UTF-8: fall through
  }
  return { base64: Buffer.from(data).toString('base64') };
}

function describeEntry(
  e: Entry,
  describe: (data: Uint8Array) => Record<string, unknown>,
): Record<string, unknown> {
  if (e.kind === 'config') {
    const m = decodeConfig(e.data);
    const membership = typeof m === 'string' ? { invalid: m } : membershipSpec(m);
    return { index: e.index, term: e.term, kind: e.kind, membership };
  }
  const data = e.kind === 'noop' ? {} : describe(e.data);
  return { index: e.index, term: e.term, kind: e.kind, ...data };
}

/** A data directory opened to look at: its identity, hard state, log, and entries on demand. */
export interface Inspection {
  readonly dir: string;
  readonly id: string | null;
  /** The cluster identity the directory records (null before the node learnt it). */
  readonly cluster: string | null;
  readonly hardState: ReturnType<FileStorage['hardState']>;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly segments: readonly { readonly file: string; readonly bytes: number }[];
  readonly tornTail: FileStorage['tornTail'];
  /** The newest snapshot (null before the first). */
  readonly snapshot: SnapshotFile | null;
  /** The entries `options.from` to `options.to`, read from disk a chunk at a time. */
  entries(): Generator<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Opens `dir` read-only (no lock, nothing written) for `inspect`. */
export async function openInspection(
  dir: string,
  options: InspectOptions = {},
): Promise<Inspection> {
  const fs = options.fs ?? new NodeFileSystem();
  const identity = await readIdentity(fs, dir);
  const storage = await FileStorage.open(dir, { fs, readOnly: true, logger: { warn() {} } });
  const first = Math.max(storage.firstIndex(), options.from ?? 0);
  const last = Math.min(storage.lastIndex(), options.to ?? Number.POSITIVE_INFINITY);
  const describe = options.describe ?? describeData;
  return {
    dir,
    id: identity.id,
    cluster: identity.cluster,
    hardState: storage.hardState(),
    firstIndex: storage.firstIndex(),
    lastIndex: storage.lastIndex(),
    segments: storage.log.recovered.segments.map((s) => ({ file: s.file, bytes: s.validBytes })),
    tornTail: storage.tornTail,
    snapshot: storage.snapshotFile(),
    *entries() {
      for (let i = first; i <= last; ) {
        const chunk = storage.entries(i, last + 1, 4 * 1024 * 1024);
        for (const e of chunk) yield describeEntry(e, describe);
        i += chunk.length;
      }
    },
    close: () => storage.close(),
  };
}

/** The report `inspect` prints, with `entries` standing for the log's selected entries. */
export function inspectionReport(
  inspection: Inspection,
  entries: unknown,
): Record<string, unknown> {
  return {
    dir: inspection.dir,
    id: inspection.id,
    cluster: inspection.cluster,
    layout: LAYOUT,
    hardState: inspection.hardState,
    snapshot:
      inspection.snapshot === null
        ? null
        : {
            ...inspection.snapshot.meta,
            bytes: inspection.snapshot.bytes,
            file: inspection.snapshot.file,
          },
    log: {
      firstIndex: inspection.firstIndex,
      lastIndex: inspection.lastIndex,
      segments: inspection.segments,
      tornTail: inspection.tornTail,
      entries,
    },
    stateMachine: null,
  };
}

/** The whole report in memory (for small logs and tests; the command streams it). */
export async function inspectDataDir(
  dir: string,
  options: InspectOptions = {},
): Promise<Record<string, unknown>> {
  const inspection = await openInspection(dir, options);
  try {
    return inspectionReport(inspection, [...inspection.entries()]);
  } finally {
    await inspection.close();
  }
}
