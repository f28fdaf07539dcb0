/**
 * `npm run ui:screenshot [-- OUT.png]`: the README's picture of the dashboard. Starts a local
 * `raftkit cluster` of three (the built bin, free ports, a temporary data directory), writes
 * and reads through it for 20 s (4 writers and 2 readers, at most 40,000 requests), stops the
 * leader from the page's own control (having moved the leadership first if the page is on
 * it), lets the load run 6 s more, and saves a screenshot of the page in Debian's chromium
 * (installed with apt-get when missing). Everything it started is stopped on every way out.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { chromiumPath } from '../test/support/chromium.js';
import { startLocalCluster } from '../test/support/raftkit.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'docs/dashboard.png'));
const LOAD_MS = 20_000;
const AFTER_MS = 6000;
const MAX_REQUESTS = 40_000;

const executablePath = chromiumPath(false);
const cluster = await startLocalCluster(['--snapshot-entries', '2000']);
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
let sent = 0;
let stopLoad = false;
let load: Promise<unknown> = Promise.resolve();
try {
  const url = cluster.dashboard;
  const urls = cluster.urls;
  const worker = async (w: number, write: boolean) => {
    for (let i = 0; !stopLoad && sent < MAX_REQUESTS; i++) {
      sent++;
      const target = urls[(w + i) % 3] as string;
      await fetch(`${target}/v1/kv/key${(w * 7919 + i) % 500}`, {
        method: write ? 'PUT' : 'GET',
        ...(write
          ? {
              body: JSON.stringify({ value: `v${i}` }),
              headers: { 'content-type': 'application/json' },
            }
          : {}),
        signal: AbortSignal.timeout(5000),
      }).catch(() => undefined);
    }
  };
  load = Promise.all(
    [0, 1, 2, 3].map((w) => worker(w, true)).concat([4, 5].map((w) => worker(w, false))),
  );
  const page = await browser.newPage({ viewport: { width: 1500, height: 1250 } });
  await page.goto(url);
  await page.waitForTimeout(LOAD_MS);
  const origin = new URL(url).origin;
  const view = (await (await fetch(`${origin}/v1/cluster`)).json()) as {
    leader: string;
    members: { id: string; url: string }[];
  };
  // The leader to stop must not be the page's own member (the page would move elsewhere):
  // when it is, the leadership goes to another member first.
  let leader = view.leader;
  const own = view.members.find((m) => m.url === origin)?.id;
  if (leader === own) {
    const other = view.members.find((m) => m.id !== own)?.id as string;
    await fetch(`${origin}/v1/leader`, {
      method: 'POST',
      body: JSON.stringify({ to: other }),
      headers: { 'content-type': 'application/json' },
      signal: AbortSignal.timeout(5000),
    });
    leader = other;
    await page.waitForTimeout(1500);
  }
  await page
    .locator(`[data-testid="member-row"][data-id="${leader}"] button[data-action="stop"]`)
    .click();
  await page.waitForTimeout(AFTER_MS);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`${sent} requests; leader ${leader} stopped; ${out}`);
} finally {
  stopLoad = true;
  // The workers finish their request in flight (each bounded by its 5 s timeout).
  await load;
  await browser.close();
  await cluster.stop();
}
