/**
 * The local controls of `raftkit cluster`, driven over HTTP the way the dashboard drives them
 * (POST /v1/cluster/nodes/:id/:action on any node): pause a leader and see another rise, cut
 * a follower off and see it fall behind and catch up when healed, restart a node; the cut
 * hook refuses whoever lacks the run's secret; `--no-ui-controls`
 * turns every control off.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClusterView } from '../../src/ui/view-types.js';
import { until } from '../support/ports.js';
import { type LocalCluster, startLocalCluster } from '../support/raftkit.js';

/** Fast elections: the controls are what is tested. */
const timing = ['--heartbeat-ms', '50', '--election-ms', '500'];

async function json(url: string, method = 'GET', body?: unknown) {
  const res = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function view(url: string): Promise<ClusterView> {
  return (await json(`${url}/v1/cluster`)).body as unknown as ClusterView;
}

const act = (url: string, id: string, action: string) =>
  json(`${url}/v1/cluster/nodes/${encodeURIComponent(id)}/${action}`, 'POST');

describe('raftkit cluster: the dashboard controls', () => {
  let cluster: LocalCluster;
  before(async () => {
    cluster = await startLocalCluster(timing);
  });
  after(() => cluster.stop());

  test('a paused leader is replaced; resumed, it follows', async () => {
    const url = cluster.urls[0] as string;
    const first = await until(
      async () => (await view(url)).leader ?? undefined,
      'a leader',
      10_000,
    );
    // Asked of another member: a paused node answers nothing.
    const leaderUrl = (await view(url)).members.find((m) => m.id === first)?.url;
    const ask = cluster.urls.find((u) => u !== leaderUrl) as string;
    const paused = await act(ask, first, 'pause');
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    assert.equal(paused.body.state, 'paused');
    const next = await until(
      async () => {
        const v = await view(ask);
        const m = v.members.find((x) => x.id === first);
        return v.leader !== null && v.leader !== first && m?.process === 'paused'
          ? v.leader
          : undefined;
      },
      'another leader while the first is paused',
      5000,
    );
    assert.notEqual(next, first);
    assert.equal((await act(ask, first, 'resume')).status, 200);
    await until(
      async () => {
        const m = (await view(ask)).members.find((x) => x.id === first);
        return m?.up === true && m.state?.role === 'follower' && m.process === 'running'
          ? true
          : undefined;
      },
      'the old leader a follower again',
      10_000,
    );
    // The leader change on the timeline: the old one stepped down, the new one won.
    const timeline = (await view(ask)).events;
    assert.ok(
      timeline.some((e) => e.kind === 'step-down' && e.node === first),
      JSON.stringify(timeline.map((e) => e.text)),
    );
    assert.ok(timeline.some((e) => e.kind === 'leader' && e.text.startsWith(`${next} won term`)));
  });

  test('a follower cut off falls behind while writes go on, and catches up once healed', async () => {
    const url = cluster.urls[0] as string;
    const v = await view(url);
    const leader = v.leader as string;
    const leaderUrl = v.members.find((m) => m.id === leader)?.url as string;
    const follower = (v.members.find((m) => m.id !== leader) as { id: string }).id;
    const cut = await act(url, follower, 'cut');
    assert.equal(cut.status, 200, JSON.stringify(cut.body));
    // Written at the leader: a cut follower could not forward them.
    for (let i = 0; i < 10; i++) {
      const put = await json(`${leaderUrl}/v1/kv/cut${i}`, 'PUT', { value: String(i) });
      assert.equal(put.status, 200, JSON.stringify(put.body));
    }
    const behind = await until(
      async () => {
        const w = await view(url);
        const m = w.members.find((x) => x.id === follower);
        return m?.process === 'cut' && (m.progress?.lagEntries ?? 0) >= 10 ? m : undefined;
      },
      'the cut follower behind by the writes',
      5000,
    );
    assert.ok(behind.up, 'a cut node still answers the dashboard (only Raft is cut)');
    // Its lag in time: the oldest entry it lacks was first sent a while ago, and it grows.
    const lagMs = behind.progress?.lagMs ?? null;
    assert.ok(lagMs !== null && lagMs > 0, `lag ${lagMs} ms`);
    // (A view is refreshed once a second old.)
    await new Promise((r) => setTimeout(r, 1500));
    const later = (await view(url)).members.find((x) => x.id === follower)?.progress?.lagMs ?? 0;
    assert.ok(later >= lagMs + 500, `lag ${lagMs} ms, then ${later} ms`);
    const self = await json(`${behind.url}/v1/cluster/self`);
    assert.equal(self.body.cut, true);
    assert.equal((await act(url, follower, 'heal')).status, 200);
    await until(
      async () => {
        const m = (await view(url)).members.find((x) => x.id === follower);
        return m?.process === 'running' && m.progress?.lagEntries === 0 ? true : undefined;
      },
      'the healed follower caught up',
      10_000,
    );
  });

  test('a node restarted from the dashboard comes back on its data', async () => {
    const url = cluster.urls[0] as string;
    const v = await view(url);
    const target = (v.members.find((m) => m.id !== v.leader && m.url !== url) as { id: string }).id;
    const restarted = await act(url, target, 'restart');
    assert.equal(restarted.status, 200, JSON.stringify(restarted.body));
    await until(
      async () => {
        const m = (await view(url)).members.find((x) => x.id === target);
        return m?.up === true && m.state !== null && m.state.appliedIndex >= 10 ? true : undefined;
      },
      'the restarted node up with what it had',
      15_000,
    );
    // Stopped, then asked to pause: refused, it is not running.
    assert.equal((await act(url, target, 'stop')).status, 200);
    const refused = await act(url, target, 'pause');
    assert.equal(refused.status, 409);
    assert.match(String(refused.body.error), /is stopped/);
    assert.equal((await act(url, target, 'restart')).status, 200);
    assert.equal((await act(url, 'nobody:1', 'stop')).status, 404);
    // Asked directly: the view may not have seen so short a stop.
    const targetUrl = v.members.find((m) => m.id === target)?.url as string;
    await until(
      async () => ((await json(`${targetUrl}/healthz`)).status === 200 ? true : undefined),
      'the node serving again',
      15_000,
    );
  });

  test("without the run's secret, the cut hook refuses", async () => {
    const url = cluster.urls[1] as string;
    const hook = await json(`${url}/v1/cluster/self/cut`, 'POST', { cut: true });
    assert.equal(hook.status, 403);
    const forged = await fetch(`${url}/v1/cluster/self/cut`, {
      method: 'POST',
      headers: {
        'raftkit-supervisor': 'a guessed secret of some length',
        'content-type': 'application/json',
      },
      body: '{"cut":true}',
    });
    assert.equal(forged.status, 403);
    assert.equal(((await json(`${url}/v1/cluster/self`)).body as { cut: boolean }).cut, false);
  });
});

describe('raftkit cluster --no-ui-controls', () => {
  let cluster: LocalCluster | undefined;
  after(() => cluster?.stop());

  test('the page only shows: every control is refused', async () => {
    cluster = await startLocalCluster([...timing, '--no-ui-controls']);
    const url = cluster.urls[0] as string;
    const v = await until(
      async () => {
        const w = await view(url);
        return w.leader !== null ? w : undefined;
      },
      'a leader',
      10_000,
    );
    assert.deepEqual(v.controls, { enabled: false, local: false });
    const refused = await act(url, v.leader as string, 'stop');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'controls-off');
    assert.equal((await view(url)).members.find((m) => m.id === v.leader)?.process, 'running');
  });
});
