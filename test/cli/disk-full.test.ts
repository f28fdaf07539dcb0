/**
 * A node whose disk fills up stops, and its last line on stderr says why, cause included
 * (the probe saw `raftkit: storage failed: a write to DIR failed`, without the ENOSPC). The
 * disk is a 2 MiB tmpfs mounted for the test (the tests run as root), unmounted on every path;
 * a mount left by a crashed run is removed at the next start.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../support/ports.js';

const bin = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/raftkit.js');
const PREFIX = 'raftkit-full-';

function mounted(path: string): boolean {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === path);
}

/** Unmounts and removes what a crashed run of this test left behind. */
function cleanLeftovers(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PREFIX)) continue;
    const path = join(tmpdir(), name);
    if (mounted(path)) execFileSync('umount', ['-l', path]);
    rmSync(path, { recursive: true, force: true });
  }
}

test('a node whose disk fills stops with exit 1, and its last line names ENOSPC', async () => {
  cleanLeftovers();
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]);
  const [raft, http] = (await freePorts(2)) as [number, number];
  const real = spawn(
    process.execPath,
    [
      bin,
      'node',
      ...['--listen', `127.0.0.1:${raft}`, '--peers', '', '--http', `127.0.0.1:${http}`],
      ...['--data', join(dir, 'node'), '--log-format', 'json', '--log-level', 'warn'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  real.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const gone = new Promise<number | null>((r) => real.once('exit', (code) => r(code)));
  try {
    const url = `http://127.0.0.1:${http}`;
    const value = JSON.stringify({ value: 'x'.repeat(256 * 1024) });
    // Writes of 256 KiB until the disk is full and the node stops (bounded: 2 MiB holds 8).
    let stopped = false;
    for (let i = 0; i < 40 && !stopped; i++) {
      try {
        await fetch(`${url}/v1/kv/k${i}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: value,
          signal: AbortSignal.timeout(5000),
        });
      } catch {
        // refused or cut: the node is gone or going
      }
      stopped = real.exitCode !== null;
      if (!stopped) await new Promise((r) => setTimeout(r, 20));
    }
    const code = await Promise.race([
      gone,
      new Promise((r) => setTimeout(() => r('running'), 10_000)),
    ]);
    assert.equal(code, 1, `the node exited with ${String(code)}: ${stderr.slice(-500)}`);
    const last = stderr.trim().split('\n').at(-1) ?? '';
    assert.match(
      last,
      /^raftkit: storage failed: a write to .* failed: ENOSPC: no space left on device/,
    );
  } finally {
    if (real.exitCode === null) real.kill('SIGKILL');
    await gone;
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});
