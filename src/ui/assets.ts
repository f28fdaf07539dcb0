/**
 * @module
 * The page's files, bundled by `npm run build` (scripts/build-ui.ts) into `dist/ui/static/`,
 * served from memory once read. Only names found in that directory are served.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** Where the bundle is: beside the built module, or in dist/ when running from src/. */
function staticDir(): string | null {
  for (const relative of ['./static/', '../../dist/ui/static/']) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return null;
}

export class Assets {
  #files: Map<string, Asset> | null = null;

  /** The file named `name` ('' is the page), or null when there is none. */
  get(name: string): Asset | null {
    this.#files ??= load();
    return this.#files.get(name === '' ? 'index.html' : name) ?? null;
  }

  /** Whether the bundle was built at all. */
  get built(): boolean {
    this.#files ??= load();
    return this.#files.size > 0;
  }
}

function load(): Map<string, Asset> {
  const dir = staticDir();
  const files = new Map<string, Asset>();
  if (dir === null) return files;
  for (const name of readdirSync(dir)) {
    const contentType = types[extname(name)];
    if (contentType === undefined || !/^[a-zA-Z0-9._-]+$/.test(name)) continue;
    files.set(name, { body: readFileSync(`${dir}${name}`), contentType });
  }
  return files;
}
