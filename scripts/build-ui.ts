/**
 * `npm run build` (after tsc): bundles the dashboard's browser code (src/ui/browser) with
 * esbuild into dist/ui/static — app.js, app.css and index.html — the files `GET /ui`
 * serves. Preact and uPlot are bundled in: the page needs nothing from the network.
 * Prints the sizes; fails if the page grows past its budget.
 */
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src/ui/browser');
const out = join(root, 'dist/ui/static');
/** The whole page (script, styles, shell), in bytes: "under a few hundred kilobytes". */
const BUDGET_BYTES = 300 * 1024;

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(source, 'main.tsx') },
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  minify: true,
  sourcemap: false,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: out,
  logLevel: 'warning',
  legalComments: 'none',
});
copyFileSync(join(source, 'index.html'), join(out, 'index.html'));
let total = 0;
const sizes = ['index.html', 'app.js', 'app.css'].map((name) => {
  const bytes = statSync(join(out, name)).size;
  total += bytes;
  return `${name} ${(bytes / 1024).toFixed(1)} KiB`;
});
console.log(`dashboard: ${sizes.join(', ')}; ${(total / 1024).toFixed(1)} KiB in all`);
if (total > BUDGET_BYTES) {
  throw new Error(`the dashboard is ${total} bytes, over its budget of ${BUDGET_BYTES}`);
}
