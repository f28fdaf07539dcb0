/**
 * `npm run verify:screenshot -- DIR`: opens `DIR/report.html` (a `raftkit verify` report) in
 * Debian's chromium, headless, through playwright-core (no browser is downloaded; chromium is
 * installed with apt-get when it is missing), and fails on an error in the page's console or
 * a chart not drawn. Writes `DIR/report.png`, a screenshot of the whole page, to look at.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { chromiumPath } from '../test/support/chromium.js';

const dir = resolve(process.argv[2] ?? '');
const page = join(dir, 'report.html');
if (process.argv[2] === undefined || !existsSync(page)) {
  console.error(`usage: npm run verify:screenshot -- DIR (DIR/report.html not found: ${page})`);
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: chromiumPath(false),
  args: ['--no-sandbox'],
});
try {
  const tab = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const errors: string[] = [];
  tab.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  tab.on('pageerror', (e) => errors.push(e.message));
  // Nothing may come from the network: the page is one file.
  await tab.route(/^https?:/, (route) => {
    errors.push(`the page asked the network for ${route.request().url()}`);
    return route.abort();
  });
  await tab.goto(pathToFileURL(page).href);
  const charts = await tab.locator('.uplot').count();
  const verdict = (await tab.locator('.verdict').textContent())?.trim();
  const shot = join(dir, 'report.png');
  await tab.screenshot({ path: shot, fullPage: true });
  console.log(`verdict shown: ${verdict}; charts drawn: ${charts}; screenshot: ${shot}`);
  if (errors.length > 0) throw new Error(`errors in the page: ${errors.join('; ')}`);
  if (charts !== 3) throw new Error(`${charts} charts drawn, not 3`);
} finally {
  await browser.close();
}
