/**
 * @module
 * A linearizability checker for recorded client histories: Wing and Gong's search with
 * Lowe's memoisation (the algorithm of Knossos and Porcupine), one partition at a time.
 *
 * A history is a set of operations, each with the time it was invoked and the time its answer
 * came back. An operation whose outcome is unknown (a write that timed out) has no return
 * time: it may have taken effect at any moment after its call, or never, which the search
 * expresses by letting it fall anywhere up to the end (where it changes nothing observed).
 * The history is linearizable if some total order of the operations respects real time
 * (one that returned before another was invoked comes first) and replays through the
 * sequential model giving every known answer.
 *
 * The search keeps a doubly linked list of call and return events; it linearizes the first
 * call it can, backtracks at a return whose call was not linearized yet, and never revisits a
 * (set of linearized operations, model state) pair. Partitions (one per key for a key-value
 * store) are checked apart: a history is linearizable if and only if each partition is.
 */
import { type Conflict, explainConflict, formatConflict } from './explain.js';

export interface HistoryOperation<I, O> {
  /** Who ran it: informative only. */
  readonly process: number;
  readonly input: I;
  /** The answer; undefined when the outcome is unknown. */
  readonly output?: O;
  /** When it was invoked. */
  readonly call: number;
  /** When its answer came back; undefined (or Infinity) when the outcome is unknown. */
  readonly ret?: number;
}

/** A sequential specification. Must be deterministic. */
export interface Model<S, I, O> {
  readonly init: () => S;
  /** The state after `input`, and the answer it gives. */
  readonly step: (state: S, input: I) => { readonly state: S; readonly output: O };
  readonly equal: (a: O, b: O) => boolean;
  /** A string that is equal for equal states (for memoisation). */
  readonly hash: (state: S) => string;
  /** True for an operation that changes nothing (a read): explanations leave such ones out. */
  readonly readOnly?: (input: I) => boolean;
  /** How an operation reads in an explanation; default its JSON. */
  readonly describe?: (input: I, output: O | undefined) => string;
  /** Operations that can be checked apart (default: all together). */
  readonly partition?: (
    ops: readonly HistoryOperation<I, O>[],
  ) => readonly (readonly HistoryOperation<I, O>[])[];
}

export type Verdict =
  | { readonly linearizable: true; readonly partitions: number; readonly steps: number }
  | {
      readonly linearizable: false;
      readonly partitions: number;
      readonly steps: number;
      /** The operations of the first partition found not linearizable. */
      readonly partition: readonly HistoryOperation<unknown, unknown>[];
      /** The longest prefix the search could linearize in it, as indices into `partition`. */
      readonly longest: readonly number[];
      /** A small set of its operations that cannot be linearized, and why (`explain.ts`). */
      readonly conflict: Conflict<unknown, unknown>;
      /** The conflict in words, one operation per line. */
      readonly explanation: string;
    }
  | { readonly linearizable: 'unknown'; readonly partitions: number; readonly steps: number };

export interface CheckOptions {
  /** Search steps before giving up with 'unknown'. Default 50 million. */
  readonly maxSteps?: number;
}

interface Event {
  readonly op: number;
  readonly call: boolean;
  /** For a call, its return event. */
  match: Event | null;
  prev: Event | null;
  next: Event | null;
}

export function checkLinearizable<S, I, O>(
  history: readonly HistoryOperation<I, O>[],
  model: Model<S, I, O>,
  options: CheckOptions = {},
): Verdict {
  const partitions = model.partition?.(history) ?? [history];
  const budget = { left: options.maxSteps ?? 50_000_000 };
  let steps = 0;
  for (const ops of partitions) {
    const before = budget.left;
    const result = checkPartition(ops, model, budget);
    steps += before - budget.left;
    if (result === 'unknown') {
      return { linearizable: 'unknown', partitions: partitions.length, steps };
    }
    if (result !== true) {
      // Each trial of the explanation's search gets a bounded budget of its own: a trial that
      // runs out proves nothing, and the explanation is only less small.
      const conflict = explainConflict(ops, model, (trial) =>
        Array.isArray(checkPartition(trial, model, { left: 2_000_000 })),
      );
      return {
        linearizable: false,
        partitions: partitions.length,
        steps,
        partition: ops as readonly HistoryOperation<unknown, unknown>[],
        longest: result,
        conflict: conflict as Conflict<unknown, unknown>,
        explanation: formatConflict(conflict, model, ops.length),
      };
    }
  }
  return { linearizable: true, partitions: partitions.length, steps };
}

/** True, 'unknown' when out of budget, or the longest linearizable prefix found. */
function checkPartition<S, I, O>(
  ops: readonly HistoryOperation<I, O>[],
  model: Model<S, I, O>,
  budget: { left: number },
): true | 'unknown' | number[] {
  const head = buildEvents(ops);
  const words = new Uint32Array(Math.ceil(ops.length / 32));
  const seen = new Set<string>();
  const stack: { event: Event; state: S }[] = [];
  let longest: number[] = [];
  let state = model.init();
  let entry = head.next;
  while (head.next !== null) {
    if (--budget.left < 0) return 'unknown';
    const event = entry as Event;
    if (event.call) {
      const op = ops[event.op] as HistoryOperation<I, O>;
      const next = model.step(state, op.input);
      if (op.output === undefined || model.equal(next.output, op.output)) {
        words[event.op >>> 5] = (words[event.op >>> 5] as number) | (1 << (event.op & 31));
        const key = `${words.join(',')}|${model.hash(next.state)}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ event, state });
          state = next.state;
          lift(event);
          entry = head.next;
          continue;
        }
        words[event.op >>> 5] = (words[event.op >>> 5] as number) & ~(1 << (event.op & 31));
      }
      entry = event.next;
    } else {
      // A return whose call is not linearized yet: undo the last choice and try the next.
      if (stack.length > longest.length) longest = stack.map((s) => s.event.op);
      const top = stack.pop();
      if (top === undefined) return longest;
      state = top.state;
      words[top.event.op >>> 5] =
        (words[top.event.op >>> 5] as number) & ~(1 << (top.event.op & 31));
      unlift(top.event);
      entry = top.event.next;
    }
  }
  return true;
}

/** Events in time order behind a sentinel head; at equal times calls come first. */
function buildEvents<I, O>(ops: readonly HistoryOperation<I, O>[]): Event {
  const timed: { time: number; event: Event }[] = [];
  ops.forEach((op, i) => {
    const call: Event = { op: i, call: true, match: null, prev: null, next: null };
    const ret: Event = { op: i, call: false, match: null, prev: null, next: null };
    call.match = ret;
    timed.push({ time: op.call, event: call });
    timed.push({ time: op.ret ?? Number.POSITIVE_INFINITY, event: ret });
  });
  timed.sort((a, b) => a.time - b.time || Number(b.event.call) - Number(a.event.call));
  const head: Event = { op: -1, call: false, match: null, prev: null, next: null };
  let last = head;
  for (const { event } of timed) {
    last.next = event;
    event.prev = last;
    last = event;
  }
  return head;
}

/** Takes a linearized call and its return out of the list. */
function lift(call: Event): void {
  for (const e of [call, call.match as Event]) {
    (e.prev as Event).next = e.next;
    if (e.next !== null) e.next.prev = e.prev;
  }
}

/** Puts them back, in the reverse order (each still knows its neighbours). */
function unlift(call: Event): void {
  for (const e of [call.match as Event, call]) {
    (e.prev as Event).next = e;
    if (e.next !== null) e.next.prev = e;
  }
}
