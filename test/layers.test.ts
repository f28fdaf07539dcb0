/**
 * The layering of docs/architecture.md, enforced: each folder under src/ imports only from the layers listed
 * for it, and core imports no `node:` module and touches no clock, timer or global randomness.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

/** Layer -> layers it may import (besides itself). */
const allowed: Record<string, readonly string[]> = {
  core: [],
  check: [],
  storage: ['core'],
  transport: ['core'],
  node: ['core', 'storage', 'transport'],
  replicated: ['node', 'core'],
  kv: ['node', 'replicated', 'core'],
  sim: ['core', 'storage', 'transport', 'node', 'replicated', 'kv', 'check'],
  // verify reads the stopped nodes' logs for its durability check (storage, node's command
  // envelope) besides driving the cluster through the kv client.
  verify: ['kv', 'check', 'node', 'storage', 'core'],
  ui: ['kv', 'node'],
  cli: ['core', 'storage', 'transport', 'node', 'replicated', 'kv', 'sim', 'check', 'verify', 'ui'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)].map(
    (m) => m[1] as string,
  );
}

function layerOf(file: string): string {
  return relative(src, file).split('/')[0] as string;
}

test('every layer imports only the layers docs/architecture.md allows', () => {
  const violations: string[] = [];
  for (const file of sourceFiles(src)) {
    const layer = layerOf(file);
    if (!(layer in allowed)) continue; // src/index.ts re-exports the public API
    for (const spec of imports(file)) {
      if (!spec.startsWith('.')) continue;
      const target = layerOf(resolve(dirname(file), spec));
      if (target !== layer && !(allowed[layer] ?? []).includes(target)) {
        violations.push(`${relative(src, file)} imports ${spec} (${layer} -> ${target})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('core is pure: no node modules, packages, clocks, timers or global randomness', () => {
  const violations: string[] = [];
  for (const file of sourceFiles(join(src, 'core'))) {
    for (const spec of imports(file)) {
      if (!spec.startsWith('.')) violations.push(`${relative(src, file)} imports ${spec}`);
    }
    const text = readFileSync(file, 'utf8');
    for (const banned of [
      'Date.',
      'Math.random',
      'setTimeout',
      'setInterval',
      'performance.',
      'process.',
    ]) {
      if (text.includes(banned)) violations.push(`${relative(src, file)} uses ${banned}`);
    }
  }
  assert.deepEqual(violations, []);
});
