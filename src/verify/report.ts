/**
 * @module
 * The report folder of a verify run: `history.jsonl` (every operation, one JSON object a
 * line, times in milliseconds since the run began), `summary.json`, the nodes' logs
 * (`node<N>.out`, written as they ran) and `report.html`: the verdict, the counts, a timeline
 * of every client's operations with the fault windows shaded, and latency and throughput over
 * time. The page is one self-contained file: the charting library (uPlot, a dependency of
 * this package) is inlined, so it opens with no network.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { FaultWindow } from './nemesis.js';
import type { VerifyResult } from './verify.js';
import type { Outcome } from './workload.js';

const require = createRequire(import.meta.url);

export interface ReportContext {
  readonly nodes: number;
  /** Clients, final readers included. */
  readonly clients: number;
  readonly seed: number;
  readonly nemesis: readonly string[];
  readonly endpoints: readonly string[] | null;
}

const OPS = ['get', 'put', 'del', 'cas'] as const;
const OUTCOMES: readonly Outcome[] = ['ok', 'fail', 'unknown'];

export function writeReport(
  dir: string,
  result: VerifyResult,
  faults: readonly FaultWindow[],
  context: ReportContext,
): void {
  writeFileSync(
    join(dir, 'history.jsonl'),
    result.ops.map((o) => JSON.stringify(o)).join('\n') + (result.ops.length > 0 ? '\n' : ''),
  );
  const verdict = result.verdict;
  const summary = {
    passed: result.passed,
    linearizable: verdict.linearizable,
    explanation: verdict.linearizable === false ? verdict.explanation : null,
    seconds: result.seconds,
    ...context,
    operations: result.counts,
    faults,
    faultCounts: result.faults,
    snapshots: result.snapshots,
    durability: result.durability,
    lost: result.lost,
    problems: result.problems,
    unexpectedErrors: result.unexpected,
    notes: result.notes,
  };
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(dir, 'report.html'), reportPage(result, faults, context));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function reportPage(
  result: VerifyResult,
  faults: readonly FaultWindow[],
  context: ReportContext,
): string {
  const uplotJs = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const uplotCss = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  // Operations as compact rows: [client, op, call ms, return ms or -1, outcome].
  const rows = result.ops.map((o) => [
    o.process,
    OPS.indexOf(o.input.op),
    Math.round(o.call * 10) / 10,
    o.ret === undefined ? -1 : Math.round(o.ret * 10) / 10,
    OUTCOMES.indexOf(o.outcome),
  ]);
  const windows = faults.map((f) => [f.kind, f.detail, f.start, f.end ?? result.seconds * 1000]);
  const verdict = result.verdict;
  const verdictText =
    verdict.linearizable === true
      ? 'linearizable'
      : verdict.linearizable === false
        ? 'NOT linearizable'
        : 'unknown (the checker gave up)';
  const countRows = Object.entries(result.counts)
    .map(
      ([op, c]) =>
        `<tr><td>${escapeHtml(op)}</td><td>${c.ok}</td><td>${c.fail}</td><td>${c.unknown}</td></tr>`,
    )
    .join('');
  const faultRows = Object.entries(result.faults)
    .map(([k, n]) => `<tr><td>${escapeHtml(k)}</td><td>${n}</td></tr>`)
    .join('');
  const list = (items: readonly string[]) =>
    items.length === 0
      ? '<p>none</p>'
      : `<ul>${items.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>`;
  const durability =
    result.durability === null
      ? '<p>not checked: the nodes’ data directories are not on this machine (--endpoints)</p>'
      : `<table><tr><th>node</th><th>found at their index</th><th>in its snapshot</th><th>lost</th></tr>${result.durability
          .map(
            (d) =>
              `<tr><td>${escapeHtml(d.node)}</td><td>${d.found}</td><td>${d.inSnapshot}</td><td>${d.lost.length}</td></tr>`,
          )
          .join('')}</table>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>raftkit verify: ${escapeHtml(verdictText)}</title>
<style>${uplotCss}
body{font:14px system-ui,sans-serif;margin:16px 24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
.verdict{padding:8px 12px;border-radius:4px;display:inline-block;font-weight:600}
.pass{background:#d8f5d8}.fail{background:#f8d0d0}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}
pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:300px}
.key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
.grid{display:flex;gap:32px;flex-wrap:wrap}
</style></head><body>
<h1>raftkit verify</h1>
<p class="verdict ${result.passed ? 'pass' : 'fail'}">${escapeHtml(verdictText)}${result.lost.length > 0 ? `, ${result.lost.length} acknowledged writes lost` : ''}${result.problems.length > 0 ? `, ${result.problems.length} problems` : ''}</p>
<p>${context.endpoints === null ? `${context.nodes} nodes started by verify` : `the cluster at ${escapeHtml(context.endpoints.join(', '))}`}; ${result.ops.length} operations in ${result.seconds.toFixed(1)} s; nemesis: ${escapeHtml(context.nemesis.join(', ') || 'none')}; seed ${context.seed}; snapshots written ${result.snapshots.taken}, installed ${result.snapshots.installed}</p>
<div class="grid"><div><h2>Operations</h2><table><tr><th>kind</th><th>ok</th><th>failed</th><th>unknown</th></tr>${countRows}</table></div>
<div><h2>Faults</h2><table><tr><th>kind</th><th>injected</th></tr>${faultRows}</table></div>
<div><h2>Durability</h2>${durability}</div></div>
${verdict.linearizable === false ? `<h2>Why not linearizable</h2><pre>${escapeHtml(verdict.explanation)}</pre>` : ''}
<h2>Lost acknowledged writes</h2>${list(result.lost)}
<h2>Problems</h2>${list(result.problems)}
${result.notes.length > 0 ? `<h2>Notes</h2>${list(result.notes)}` : ''}
<h2>Timeline</h2>
<p class="key">each client's operations, call to return:<span style="background:#3a7"></span>ok<span style="background:#d33"></span>failed<span style="background:#e90"></span>unknown outcome (drawn to the end); shaded: fault windows</p>
<div id="timeline"></div>
<h2>Latency</h2><div id="latency"></div>
<h2>Throughput</h2><div id="throughput"></div>
<h2>Faults, in order</h2><pre>${escapeHtml(faults.map((f) => `${(f.start / 1000).toFixed(2).padStart(7)} s – ${f.end === null ? '   ...' : `${(f.end / 1000).toFixed(2).padStart(6)} s`}  ${f.ok ? '' : '(did not complete) '}${f.detail}`).join('\n')) || 'none'}</pre>
<script>${uplotJs}</script>
<script>
const OPS = ${scriptJson(OPS)};
const rows = ${scriptJson(rows)};
const windows = ${scriptJson(windows)};
const clients = ${context.clients};
const endMs = ${Math.round(result.seconds * 1000)};
${PAGE_SCRIPT}
</script>
</body></html>
`;
}

/** The page's drawing code: three uPlot charts sharing the fault shading. */
const PAGE_SCRIPT = `
const FAULT_COLOURS = { kill: 'rgba(220,60,60,0.13)', pause: 'rgba(60,110,220,0.13)', partition: 'rgba(160,80,200,0.15)', member: 'rgba(40,160,160,0.13)', snapshot: 'rgba(120,120,120,0.13)', clock: 'rgba(230,160,20,0.15)' };
const OUTCOME_COLOURS = ['#3a7', '#d33', '#e90'];
const width = Math.max(700, Math.min(1400, window.innerWidth - 60));
function shadeFaults(u) {
  const ctx = u.ctx;
  ctx.save();
  for (const [kind, , start, end] of windows) {
    const x0 = u.valToPos(start / 1000, 'x', true);
    const x1 = Math.max(x0 + 1, u.valToPos(end / 1000, 'x', true));
    ctx.fillStyle = FAULT_COLOURS[kind] || 'rgba(0,0,0,0.1)';
    ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
  }
  ctx.restore();
}
// The timeline: one row per client, a bar per operation.
{
  const xs = [0, endMs / 1000];
  new uPlot({
    width, height: Math.max(160, 22 * clients + 60),
    scales: { x: { time: false }, y: { range: [-0.5, clients - 0.5] } },
    axes: [{ label: 'seconds' }, { label: 'client', splits: () => Array.from({ length: clients }, (_, i) => i), values: (u, v) => v.map((c) => 'c' + c) }],
    series: [{}, { label: 'operations', stroke: 'transparent', points: { show: false } }],
    legend: { show: false },
    hooks: { drawClear: [shadeFaults], draw: [(u) => {
      const ctx = u.ctx;
      const h = Math.max(2, Math.min(14, u.bbox.height / clients * 0.6));
      for (const [c, , call, ret, outcome] of rows) {
        const x0 = u.valToPos(call / 1000, 'x', true);
        const x1 = u.valToPos((ret < 0 ? endMs : ret) / 1000, 'x', true);
        const y = u.valToPos(c, 'y', true);
        ctx.fillStyle = OUTCOME_COLOURS[outcome];
        ctx.fillRect(x0, y - h / 2, Math.max(1, x1 - x0 - 0.5), h);
      }
    }] },
  }, [xs, [null, null]], document.getElementById('timeline'));
}
// Latency of each answered operation, by kind (log scale).
{
  const byKind = OPS.map(() => []);
  for (const [, op, call, ret, outcome] of rows) if (ret >= 0 && outcome === 0) byKind[op].push([call / 1000, Math.max(0.05, ret - call)]);
  const points = byKind.flatMap((list, k) => list.map(([x, y]) => [x, k, y])).sort((a, b) => a[0] - b[0]);
  const xs = points.map((p) => p[0]);
  const series = OPS.map((_, k) => points.map((p) => (p[1] === k ? p[2] : null)));
  const colours = ['#36c', '#3a7', '#c3c', '#e70'];
  new uPlot({
    width, height: 300,
    scales: { x: { time: false }, y: { distr: 3 } },
    axes: [{ label: 'seconds' }, { label: 'latency, ms' }],
    series: [{}, ...OPS.map((name, k) => ({ label: name, stroke: colours[k], fill: colours[k], paths: () => null, points: { show: true, size: 3, stroke: colours[k], fill: colours[k] } }))],
    hooks: { drawClear: [shadeFaults] },
  }, [xs, ...series], document.getElementById('latency'));
}
// Operations completed per second, answered and not.
{
  const seconds = Math.ceil(endMs / 1000) + 1;
  const ok = new Array(seconds).fill(0), failed = new Array(seconds).fill(0);
  for (const [, , call, ret, outcome] of rows) {
    const at = Math.floor((ret < 0 ? call : ret) / 1000);
    if (at >= 0 && at < seconds) (outcome === 0 ? ok : failed)[at]++;
  }
  const xs = ok.map((_, i) => i);
  new uPlot({
    width, height: 240,
    scales: { x: { time: false } },
    axes: [{ label: 'seconds' }, { label: 'operations / s' }],
    series: [{}, { label: 'answered', stroke: '#3a7', width: 2 }, { label: 'failed or unknown', stroke: '#d33', width: 2 }],
    hooks: { drawClear: [shadeFaults] },
  }, [xs, ok, failed], document.getElementById('throughput'));
}
`;
