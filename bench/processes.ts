/**
 * What the benchmark reads about a running process from /proc: CPU time (user + system) and
 * resident memory, and the children of a process (the nodes of `raftkit cluster`).
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds a process has used so far (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields count from after its ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Resident memory in bytes (0 once the process is gone). */
export function residentBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Samples the peak resident memory of some processes every `everyMs` until stopped. */
export class PeakMemory {
  readonly peaks = new Map<number, number>();
  readonly #timer: NodeJS.Timeout;

  constructor(
    readonly pids: readonly number[],
    everyMs = 100,
  ) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), everyMs);
  }

  #sample(): void {
    for (const pid of this.pids) {
      this.peaks.set(pid, Math.max(this.peaks.get(pid) ?? 0, residentBytes(pid)));
    }
  }

  stop(): number[] {
    clearInterval(this.#timer);
    this.#sample();
    return this.pids.map((pid) => this.peaks.get(pid) ?? 0);
  }
}
