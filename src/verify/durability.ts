/**
 * @module
 * The durability check of a verify run: every acknowledged write is in the log of every
 * member, at the index it was acknowledged with, as that very command (read from the stopped
 * node's data directory). An entry a snapshot has since compacted away cannot be read back
 * one by one: it counts as covered when the node's snapshot reaches past it (the state it
 * holds was read back by the final linearizable reads).
 */
import { kvModel } from '../check/index.js';
import { decodeKvCommand } from '../kv/index.js';
import { decodeCommand } from '../node/index.js';
import { FileStorage } from '../storage/index.js';
import type { Recorded } from './workload.js';

export interface DurabilityReport {
  readonly node: string;
  /** Acknowledged writes found at their index. */
  readonly found: number;
  /** Acknowledged writes compacted into the node's snapshot. */
  readonly inSnapshot: number;
  /** What is missing or different, one line each. */
  readonly lost: readonly string[];
}

/** Checks the data directory `dir` (its node stopped) against the acknowledged writes. */
export async function checkDurable(
  node: string,
  dir: string,
  acked: readonly Recorded[],
): Promise<DurabilityReport> {
  const lost: string[] = [];
  let found = 0;
  let inSnapshot = 0;
  let storage: FileStorage;
  try {
    storage = await FileStorage.open(dir, { readOnly: true });
  } catch (e) {
    return {
      node,
      found,
      inSnapshot,
      lost: [`its data directory cannot be read: ${(e as Error).message}`],
    };
  }
  try {
    const commit = storage.hardState().commit;
    const snapshotIndex = storage.snapshot()?.index ?? 0;
    const first = storage.firstIndex();
    for (const o of acked) {
      const index = o.index as number;
      const what = `${kvModel.describe?.(o.input, undefined) ?? o.input.op} acknowledged at index ${index}`;
      if (index > commit && index > snapshotIndex) {
        lost.push(`${what}: the node committed only up to ${Math.max(commit, snapshotIndex)}`);
        continue;
      }
      if (index < first) {
        if (snapshotIndex >= index) inSnapshot++;
        else lost.push(`${what}: compacted, but the snapshot ends at ${snapshotIndex}`);
        continue;
      }
      const [entry] = storage.entries(index, index + 1, Number.POSITIVE_INFINITY);
      if (entry === undefined) {
        if (snapshotIndex >= index) inSnapshot++;
        else lost.push(`${what}: no entry there`);
        continue;
      }
      const envelope = decodeCommand(entry.data);
      if (typeof envelope === 'string') {
        lost.push(`${what}: the entry there is not a command (${envelope})`);
        continue;
      }
      const command = decodeKvCommand(envelope.payload, index);
      const same =
        command.op === o.input.op &&
        command.key === o.input.key &&
        (command.op !== 'put' || (o.input.op === 'put' && command.value === o.input.value)) &&
        (command.op !== 'cas' ||
          (o.input.op === 'cas' &&
            command.value === o.input.value &&
            command.expected === o.input.expected));
      if (same) found++;
      else
        lost.push(
          `${what}: the entry there is a different command (${command.op} ${'key' in command ? command.key : ''})`,
        );
    }
  } finally {
    await storage.close();
  }
  return { node, found, inSnapshot, lost };
}
