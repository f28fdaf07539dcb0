/**
 * The package's subpath exports (`raftkit/core`, `raftkit/client`, ...): each resolves to
 * its built layer, and what a layer loads stays in the layers below it. Read from the built
 * files' static imports (`npm run build` comes first in `npm test`), so a stray import that
 * would make an embedder of the core load the logger, or `raftkit get` load the node, fails.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, { import: string } | string>;
};

/** Every file a built module loads through static imports, and the packages it names. */
function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(
      /^\s*(?:import|export)\s(?:[^'"]*?\sfrom\s)?['"]([^'"]+)['"]/gm,
    )) {
      const spec = m[1] as string;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else if (!spec.startsWith('node:')) packages.add(spec.split('/')[0] as string);
    }
  };
  visit(join(root, entry));
  return { files, packages };
}

const layersOf = (files: Set<string>) =>
  new Set([...files].map((f) => relative(join(root, 'dist'), f).split('/')[0]));

describe('package exports', () => {
  test('every subpath resolves by the package name to its built module', () => {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      const name = subpath === '.' ? 'raftkit' : `raftkit/${subpath.slice(2)}`;
      const out = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import('${name}'); console.log(Object.keys(m).length);`,
        ],
        { cwd: root, encoding: 'utf8' },
      );
      assert.ok(Number(out) > 0, `${name} exports something`);
    }
  });

  test('raftkit/core loads only the core, and no package', () => {
    const { files, packages } = staticGraph('dist/core/index.js');
    assert.deepEqual([...layersOf(files)], ['core']);
    assert.deepEqual([...packages], []);
  });

  test('raftkit/client, and the command line of `raftkit get`, load neither the node, the storage, the transport (but its address parsing) nor the logger, metrics or schema packages', () => {
    for (const entry of ['dist/kv/client.js', 'dist/cli/main.js', 'dist/cli/client-commands.js']) {
      const { files, packages } = staticGraph(entry);
      for (const layer of ['storage', 'sim', 'replicated', 'check']) {
        assert.ok(!layersOf(files).has(layer), `${entry} loads ${layer}/`);
      }
      // Of the transport, only the parsing of `host:port` (and the id limit it checks).
      const transport = [...files].filter((f) => f.includes('/dist/transport/'));
      for (const f of transport) {
        assert.ok(
          ['address.js', 'wire.js'].includes(f.split('/').at(-1) as string),
          `${entry} loads ${relative(root, f)}`,
        );
      }
      const node = [...files].filter((f) => f.includes('/dist/node/'));
      assert.deepEqual(
        node.map((f) => relative(root, f)),
        node.length === 0 ? [] : ['dist/node/errors.js'],
        `${entry} loads only the node's errors`,
      );
      for (const heavy of ['pino', 'prom-client', 'zod', 'pino-pretty']) {
        assert.ok(!packages.has(heavy), `${entry} loads ${heavy}`);
      }
    }
  });
});
