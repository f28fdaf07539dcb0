/**
 * @module
 * Why a history is not linearizable, in a few operations. Two reductions keep the claim true
 * (each turns a linearizable history into a linearizable one, so a failure that survives them
 * is a failure of the original):
 *
 * 1. Cutting at a time T: operations invoked after T are left out, and the answers of those
 *    still running at T are ignored. What came later can only be ordered after every answer
 *    given by T, so it could not have explained those answers. The smallest failing T is found
 *    by bisection over the return times.
 * 2. Ignoring an answer: the operation still takes effect inside its interval, but any answer
 *    is accepted; a read whose answer is ignored changes nothing and is left out.
 *
 * Answers are then ignored in halving chunks (delta debugging) as long as the history still
 * fails, leaving a core of operations whose answers cannot all be right together.
 */
import type { HistoryOperation, Model } from './linearizability.js';

export interface Conflict<I, O> {
  /** Operations whose answers cannot all be right, in call order (as in the history). */
  readonly core: readonly HistoryOperation<I, O>[];
  /**
   * Writes around the core that take effect inside their intervals, with their answers ignored
   * (shown for context; every write invoked by `cutAt` is part of the proof).
   */
  readonly context: readonly HistoryOperation<I, O>[];
  /** The history was cut at this time. */
  readonly cutAt: number;
  /** Operations in the cut history. */
  readonly considered: number;
}

type Op<I, O> = HistoryOperation<I, O>;

/** `fails(ops)` must be true only when `ops` is proven not linearizable. */
export function explainConflict<S, I, O>(
  ops: readonly Op<I, O>[],
  model: Model<S, I, O>,
  fails: (ops: readonly Op<I, O>[]) => boolean,
): Conflict<I, O> {
  const readOnly = model.readOnly ?? (() => false);
  /** The operation of the history each reduced copy stands for. */
  const origin = new Map<Op<I, O>, Op<I, O>>(ops.map((o) => [o, o]));
  const ignoreAnswer = (op: Op<I, O>): Op<I, O> => {
    const { output: _ignored, ...rest } = op;
    origin.set(rest, origin.get(op) as Op<I, O>);
    return rest;
  };
  const cut = (t: number): Op<I, O>[] => {
    const kept: Op<I, O>[] = [];
    for (const op of ops) {
      if (op.call > t) continue;
      if (op.ret !== undefined && op.ret <= t) kept.push(op);
      else if (!readOnly(op.input)) kept.push(ignoreAnswer(op));
    }
    return kept;
  };
  const times = [...new Set(ops.flatMap((o) => (o.ret === undefined ? [] : [o.ret])))].sort(
    (a, b) => a - b,
  );
  // The smallest return time whose cut still fails (the last one, at worst: nothing is cut).
  let low = 0;
  let high = times.length - 1;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (fails(cut(times[mid] as number))) high = mid;
    else low = mid + 1;
  }
  const cutAt = times[high] ?? Number.POSITIVE_INFINITY;
  let history = cut(cutAt);
  if (!fails(history)) history = [...ops];

  // Ignore answers, a chunk at a time, while the history still fails.
  let answered = history.flatMap((o, i) => (o.output === undefined ? [] : [i]));
  let chunk = Math.ceil(answered.length / 2);
  for (;;) {
    for (let start = 0; start < answered.length; ) {
      const tried = new Set(answered.slice(start, start + chunk));
      const trial = relax(history, tried, readOnly, ignoreAnswer);
      if (answered.length > tried.size && fails(trial.ops)) {
        history = trial.ops;
        answered = answered.filter((i) => !tried.has(i)).map((i) => trial.index[i] as number);
      } else start += chunk;
    }
    if (chunk === 1) break;
    chunk = Math.ceil(chunk / 2);
  }
  const core = answered.map((i) => history[i] as Op<I, O>).sort((a, b) => a.call - b.call);
  const from = Math.min(...core.map((o) => o.call));
  const to = Math.max(...core.map((o) => o.ret ?? o.call));
  const inCore = new Set(core);
  const writes = history.filter((o) => !inCore.has(o) && !readOnly(o.input));
  const overlapping = writes.filter((o) => o.call <= to && (o.ret ?? Infinity) >= from);
  const before = writes
    .filter((o) => o.ret !== undefined && o.ret < from)
    .sort((a, b) => (b.ret as number) - (a.ret as number))
    .slice(0, 2);
  const context = [...before, ...overlapping].sort((a, b) => a.call - b.call);
  const original = (o: Op<I, O>): Op<I, O> => origin.get(o) ?? o;
  return {
    core: core.map(original),
    context: context.map(original),
    cutAt,
    considered: history.length,
  };
}

/** `ops` with the answers at `indices` ignored (reads dropped), and where each op went. */
function relax<I, O>(
  ops: readonly Op<I, O>[],
  indices: ReadonlySet<number>,
  readOnly: (input: I) => boolean,
  ignoreAnswer: (op: Op<I, O>) => Op<I, O>,
): { ops: Op<I, O>[]; index: number[] } {
  const out: Op<I, O>[] = [];
  const index: number[] = [];
  ops.forEach((op, i) => {
    index[i] = out.length;
    if (!indices.has(i)) out.push(op);
    else if (!readOnly(op.input)) out.push(ignoreAnswer(op));
  });
  return { ops: out, index };
}

/** The conflict in words. */
export function formatConflict<S, I, O>(
  conflict: Conflict<I, O>,
  model: Model<S, I, O>,
  total: number,
): string {
  const describe =
    model.describe ??
    ((input: I, output: O | undefined) =>
      `${JSON.stringify(input)} -> ${output === undefined ? '?' : JSON.stringify(output)}`);
  const line = (o: Op<I, O>): string => {
    const span = `${o.call.toFixed(1)}..${o.ret === undefined ? 'never answered' : o.ret.toFixed(1)}`;
    return `  [client ${o.process}] ${describe(o.input, o.output)}  (${span})`;
  };
  const answers =
    conflict.core.length === 1
      ? 'this answer cannot be'
      : `these ${conflict.core.length} answers cannot all be`;
  const lines = [`not linearizable: ${answers} right`, ...conflict.core.map(line)];
  if (conflict.context.length > 0) {
    lines.push('given these writes, each taking effect within its interval:');
    lines.push(...conflict.context.map(line));
  }
  lines.push(
    `(found in the ${conflict.considered} of ${total} operations invoked up to ${conflict.cutAt.toFixed(1)})`,
  );
  return lines.join('\n');
}
