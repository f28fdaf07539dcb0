/**
 * @module
 * The node processes of a verify run, written down (`<tmp>/raftkit-verify/<pid>.pids`) as they
 * start, so that a run killed with SIGKILL, which stops nothing, leaves nodes the next run can
 * find and stop. (Nodes in network namespaces are also found through the namespaces.)
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DIR = join(tmpdir(), 'raftkit-verify');
const FILE = join(DIR, `${process.pid}.pids`);

/** Whether process `pid` exists (one of another user's counts). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Notes the pid of a node this run started. */
export function noteNode(pid: number): void {
  mkdirSync(DIR, { recursive: true });
  appendFileSync(FILE, `${pid}\n`);
}

/** Forgets this run's notes (at its end, every node stopped). */
export function forgetNodes(): void {
  rmSync(FILE, { force: true });
}

/**
 * SIGKILLs the nodes of runs whose verify process is gone, if they still run `raftkit node`
 * (a pid may have been reused since). Returns how many it stopped.
 */
export function stopOrphanedNodes(): number {
  let stopped = 0;
  let files: string[];
  try {
    files = readdirSync(DIR).filter((f) => /^\d+\.pids$/.test(f));
  } catch {
    return 0;
  }
  for (const file of files) {
    const owner = Number(file.split('.')[0]);
    if (owner === process.pid || alive(owner)) continue;
    const pids = readFileSync(join(DIR, file), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
    for (const pid of pids) {
      let command = '';
      try {
        command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      } catch {
        continue;
      }
      if (!/raftkit/.test(command) || !/ node /.test(command)) continue;
      try {
        process.kill(pid, 'SIGKILL');
        stopped++;
      } catch {
        // gone meanwhile
      }
    }
    rmSync(join(DIR, file), { force: true });
  }
  return stopped;
}
