/**
 * Debian's chromium, for tests and scripts that drive a real browser through playwright-core:
 * installed with apt-get when it is missing (never a downloaded browser).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const path = '/usr/bin/chromium';

/** The browser's path, installing the package first if it is not there. */
export function chromiumPath(quiet = true): string {
  if (existsSync(path)) return path;
  const stdio = quiet ? 'ignore' : 'inherit';
  if (!quiet) console.log('installing chromium (apt-get)...');
  execFileSync('apt-get', ['update'], { stdio });
  execFileSync('apt-get', ['install', '-y', 'chromium'], {
    stdio,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return path;
}
