/**
 * The dashboard's API on an in-process cluster of three (real sockets and disks): the
 * cluster's view at /v1/cluster, the event stream's pace, a member lost and found, the page's
 * files, CORS for pages of other members only, bad requests, and tokens passed on to peers.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Authenticator, newToken, parseAuthFile } from '../../src/kv/index.js';
import type { DashboardParts } from '../../src/kv/kv-node.js';
import { newCertificate, newCertificateAuthority } from '../../src/transport/index.js';
import { Dashboard } from '../../src/ui/index.js';
import type { ClusterView } from '../../src/ui/view-types.js';
import { KvCluster, request } from '../kv/support.js';
import { until } from '../support/ports.js';

const withDashboard = {
  dashboard: (parts: DashboardParts) => new Dashboard({ ...parts, controls: false }),
};

async function view(url: string, headers: Record<string, string> = {}): Promise<ClusterView> {
  const r = await request(`${url}/v1/cluster`, 'GET', undefined, headers);
  assert.equal(r.status, 200, r.text);
  return r.body as unknown as ClusterView;
}

/** Reads the event stream for `ms`: the events it sent, by name, with their data. */
async function readStream(url: string, ms: number, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  const res = await fetch(`${url}/v1/cluster/events`, { headers, signal: abort.signal });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/event-stream');
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: { event: string; data: ClusterView }[] = [];
  let buffer = '';
  const stop = setTimeout(() => abort.abort(), ms);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined)
          events.push({ event, data: JSON.parse(data) });
        end = buffer.indexOf('\n\n');
      }
    }
  } catch (e) {
    if (!abort.signal.aborted) throw e;
  } finally {
    clearTimeout(stop);
  }
  return events;
}

describe('the dashboard API', () => {
  let cluster: KvCluster;

  before(async () => {
    cluster = await KvCluster.start(3, {
      ...withDashboard,
      snapshotEntries: 40,
      snapshotKeepEntries: 0,
    });
    await cluster.leader();
  });
  after(() => cluster.close());

  test('GET /v1/cluster: every member, up, with its URL, one leader, and the election', async () => {
    const url = cluster.urls[0] as string;
    // Members advertise their URLs through the log: every one is known once they applied.
    await until(
      async () => (await view(url)).members.every((m) => m.url !== null && m.state !== null),
      'every member advertised and answered',
      10_000,
    );
    const v = await view(url);
    assert.equal(v.servedBy, cluster.raft[0]);
    assert.deepEqual(
      v.members.map((m) => m.id),
      [...cluster.raft].sort(),
    );
    assert.deepEqual(
      Object.fromEntries(v.members.map((m) => [m.id, m.url])),
      Object.fromEntries(cluster.raft.map((id, i) => [id, cluster.urls[i]])),
    );
    assert.ok(v.members.every((m) => m.up && m.voter && !m.learner));
    const leaders = v.members.filter((m) => m.state?.role === 'leader');
    assert.equal(leaders.length, 1);
    assert.equal(v.leader, leaders[0]?.id);
    assert.equal(v.term, leaders[0]?.state?.term);
    // The leader's view of its followers: each one caught up (nothing is being written).
    const followers = v.members.filter((m) => m.id !== v.leader);
    for (const f of followers) {
      assert.ok(f.progress !== null, `${f.id} has no progress`);
      assert.equal(f.progress.match, leaders[0]?.state?.lastIndex);
      assert.equal(f.progress.lagEntries, 0);
    }
    assert.ok(
      v.events.some(
        (e) => e.kind === 'leader' && e.text.startsWith(`${v.leader} won term ${v.term}`),
      ),
      JSON.stringify(v.events),
    );
    assert.deepEqual(v.controls, { enabled: false, local: false });
    // Each node's log strip: terms over its last entries.
    for (const m of v.members) {
      assert.ok(m.log !== null && m.log.to === m.state?.lastIndex && m.log.terms.length >= 1);
    }
  });

  test('the event stream: a whole view, then at least four updates a second', async () => {
    const url = cluster.urls[1] as string;
    const started = Date.now();
    const events = await readStream(url, 2500);
    const seconds = (Date.now() - started) / 1000;
    assert.equal(events[0]?.event, 'view');
    const updates = events.filter((e) => e.event === 'update').length;
    console.log(`${updates} updates in ${seconds.toFixed(1)} s`);
    // 250 ms a round: ten in 2.5 s; a loaded machine may lose one or two.
    assert.ok(updates / seconds >= 3.2, `${updates} updates in ${seconds} s`);
    assert.ok(events.slice(1).every((e) => e.data.members.length === 3));
    // Messages between members as they happen (sampled): the leader's heartbeats at least.
    const members = new Set(cluster.raft);
    const messages = events.flatMap((e) => e.data.messages);
    assert.ok(
      messages.some((m) => m.type === 'heartbeat'),
      `${messages.length} messages`,
    );
    assert.ok(messages.every((m) => members.has(m.from) && members.has(m.to) && m.term >= 1));
    // Sampled: at most one a 250 ms window per sender, receiver and type (votes aside).
    const perWindow = new Map<string, number>();
    for (const m of messages.filter((x) => x.type !== 'vote' && x.type !== 'vote-response')) {
      const key = `${m.from}|${m.to}|${m.type}|${Math.floor(m.t / 250)}`;
      perWindow.set(key, (perWindow.get(key) ?? 0) + 1);
    }
    assert.deepEqual(
      [...perWindow].filter(([, n]) => n > 1),
      [],
    );
  });

  test('writes are charted: a second of writes with its latencies, from every node that served them', async () => {
    const url = cluster.urls[0] as string;
    for (let i = 0; i < 20; i++) {
      const r = await request(`${cluster.urls[i % 3]}/v1/kv/chart${i}`, 'PUT', '{"value":"x"}');
      assert.equal(r.status, 200);
    }
    for (let i = 0; i < 7; i++) await request(`${cluster.urls[i % 3]}/v1/kv/chart${i}`);
    // Points come a few seconds behind (members report a second once it has ended).
    let total = { writes: 0, reads: 0 };
    await until(
      async () => {
        const points = (await view(url)).chart;
        total = points.reduce(
          (t, p) => ({ writes: t.writes + p.writes, reads: t.reads + p.reads }),
          { writes: 0, reads: 0 },
        );
        return total.writes >= 20 && total.reads >= 7;
      },
      'the writes charted',
      10_000,
    );
    const points = (await view(url)).chart;
    assert.deepEqual(total, { writes: 20, reads: 7 });
    const busy = points.filter((p) => p.writes > 0);
    assert.ok(
      busy.every((p) => p.writeP50 !== null && (p.writeP99 as number) >= (p.writeP50 as number)),
    );
    assert.ok(
      points.some((p) => p.fsyncP50 !== null),
      'fsyncs charted',
    );
    // Commit lag per follower: each second names both followers.
    const { leader } = await view(url);
    const followers = cluster.raft.filter((id) => id !== leader).sort();
    assert.ok(
      points.every((p) => JSON.stringify(Object.keys(p.lag).sort()) === JSON.stringify(followers)),
    );
    // One point a second, in order.
    for (let i = 1; i < points.length; i++) {
      assert.equal((points[i] as { t: number }).t - (points[i - 1] as { t: number }).t, 1000);
    }
  });

  test('snapshots and configuration changes are on the timeline; a learner is shown apart', async () => {
    const url = cluster.urls[0] as string;
    for (let i = 0; i < 45; i++) {
      assert.equal((await request(`${url}/v1/kv/snap${i}`, 'PUT', '{"value":"x"}')).status, 200);
    }
    await until(
      async () => {
        const taken = (await view(url)).events.filter((e) => e.kind === 'snapshot');
        return new Set(taken.map((e) => e.node)).size === 3;
      },
      'a snapshot taken by every node',
      10_000,
    );
    const snapshots = (await view(url)).events.filter((e) => e.kind === 'snapshot');
    assert.ok(
      snapshots.every((e) => /took a snapshot at \d+$/.test(e.text)),
      JSON.stringify(snapshots),
    );
    // A learner nobody runs: the configuration commits without it.
    const added = await request(
      `${url}/v1/members`,
      'POST',
      JSON.stringify({ id: 'watcher', address: '127.0.0.1:9', learner: true }),
    );
    assert.equal(added.status, 200, added.text);
    await until(
      async () => {
        const v = await view(url);
        const learner = v.members.find((m) => m.id === 'watcher');
        return (
          learner?.learner === true &&
          !learner.voter &&
          learner.up === false &&
          v.events.some((e) => e.kind === 'membership' && /learners watcher$/.test(e.text))
        );
      },
      'the learner in the view and its configuration on the timeline',
      5000,
    );
    const members = (await view(url)).members.map((m) => m.id);
    assert.equal(members.at(-1), 'watcher', 'learners after the voters');
    assert.equal((await request(`${url}/v1/members/watcher`, 'DELETE')).status, 200);
    await until(
      async () => !(await view(url)).members.some((m) => m.id === 'watcher'),
      'the learner gone',
      5000,
    );
  });

  test('a member that goes down is marked down with an event, found again, and installs a snapshot', async () => {
    const url = cluster.urls[0] as string;
    const leader = await cluster.leader();
    const victim = leader === 2 ? 1 : 2;
    const id = cluster.raft[victim] as string;
    await cluster.stopNode(victim);
    await until(
      async () => {
        const v = await view(url);
        return (
          v.members.find((m) => m.id === id)?.up === false &&
          v.events.some((e) => e.kind === 'lost' && e.node === id)
        );
      },
      `${id} marked down`,
      5000,
    );
    // Written while it is down, and compacted away behind a snapshot: it must install one.
    const leaderUrl = cluster.urls[leader] as string;
    for (let i = 0; i < 50; i++) {
      assert.equal(
        (await request(`${leaderUrl}/v1/kv/away${i}`, 'PUT', '{"value":"x"}')).status,
        200,
      );
    }
    await cluster.startNode(victim);
    await until(
      async () => {
        const v = await view(url);
        return (
          v.members.find((m) => m.id === id)?.up === true &&
          v.events.some((e) => e.kind === 'found' && e.node === id) &&
          v.events.some(
            (e) =>
              e.kind === 'snapshot' &&
              e.node === id &&
              /installed the leader's snapshot/.test(e.text),
          )
        );
      },
      `${id} up again, with the leader's snapshot`,
      10_000,
    );
  });

  test('the page: HTML, script and styles from /ui, with a content security policy', async () => {
    const url = cluster.urls[2] as string;
    const page = await request(`${url}/ui`);
    assert.equal(page.status, 200, page.text);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.text, /<script type="module" src="\/ui\/app.js">/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const script = await request(`${url}/ui/app.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    // No CDN: the bundle names no remote script or font.
    assert.doesNotMatch(script.text, /https:\/\/(cdn|unpkg|fonts)\./);
    assert.equal((await request(`${url}/ui/app.css`)).status, 200);
    for (const bad of ['/ui/nothing.js', '/ui/..%2Fpackage.json', '/ui/a/b']) {
      assert.equal((await request(`${url}${bad}`)).status, 404, bad);
    }
  });

  test('CORS only for pages served by a member: its preflight answered, others refused', async () => {
    const url = cluster.urls[0] as string;
    const member = cluster.urls[1] as string;
    const preflight = await fetch(`${url}/v1/cluster/events`, {
      method: 'OPTIONS',
      headers: { origin: member, 'access-control-request-headers': 'authorization' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), member);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /authorization/);
    const got = await request(`${url}/v1/cluster`, 'GET', undefined, { origin: member });
    assert.equal(got.headers.get('access-control-allow-origin'), member);
    const foreign = await fetch(`${url}/v1/cluster`, {
      method: 'OPTIONS',
      headers: { origin: 'http://elsewhere.example' },
    });
    assert.equal(foreign.status, 405);
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    const plain = await request(`${url}/v1/cluster`, 'GET', undefined, {
      origin: 'http://elsewhere.example',
    });
    assert.equal(plain.headers.get('access-control-allow-origin'), null);
  });

  test('bad requests get clear errors, and the local controls are off', async () => {
    const url = cluster.urls[0] as string;
    const cases: [string, string, number, RegExp][] = [
      ['GET', '/v1/cluster/self?events=-1', 400, /events must be a non-negative integer/],
      ['GET', '/v1/cluster/self?events=1e3', 400, /events must be/],
      ['GET', '/v1/cluster/self?bogus=1', 400, /unknown parameter "bogus"/],
      ['GET', '/v1/cluster/elsewhere', 404, /no such route/],
      ['POST', '/v1/cluster', 405, /use GET or HEAD/],
      [
        'POST',
        `/v1/cluster/nodes/${encodeURIComponent(cluster.raft[1] as string)}/explode`,
        404,
        /no such action "explode"/,
      ],
      ['GET', '/v1/cluster/nodes/a/stop', 405, /use POST/],
      ['POST', '/v1/cluster/nodes/a/stop', 403, /does not allow the dashboard controls/],
      ['POST', '/v1/cluster/self/cut', 403, /only this node's supervisor may cut it off/],
    ];
    for (const [method, path, status, message] of cases) {
      const r = await request(
        `${url}${path}`,
        method,
        method === 'POST' ? '{"cut":true}' : undefined,
      );
      assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
      assert.match(String(r.body.error), message, `${method} ${path}`);
    }
    const self = await request(`${url}/v1/cluster/self?events=0&messages=0&activity=0`);
    assert.equal(self.status, 200);
    assert.equal(self.body.id, cluster.raft[0]);
    assert.equal(self.body.cut, false);
  });
});

describe('the dashboard API with tokens', () => {
  let cluster: KvCluster;
  let read = '';

  before(async () => {
    const made = await newToken('read');
    read = made.token;
    const auth = new Authenticator(
      parseAuthFile(
        JSON.stringify({ tokens: [{ name: 'read', role: 'read', hash: made.hash }] }),
        'auth.json',
      ),
    );
    cluster = await KvCluster.start(3, { ...withDashboard, server: { auth } });
    await cluster.leader();
  });
  after(() => cluster.close());

  test('the page needs no token; its data does, and the token reaches the other members', async () => {
    const url = cluster.urls[0] as string;
    assert.equal((await request(`${url}/ui`)).status, 200);
    const refused = await request(`${url}/v1/cluster`);
    assert.equal(refused.status, 401);
    assert.equal((await request(`${url}/v1/cluster/events`)).status, 401);
    const bearer = { authorization: `Bearer ${read}` };
    // Every member answers the node that asks on the viewer's behalf, with the viewer's token.
    await until(
      async () => (await view(url, bearer)).members.every((m) => m.up && m.state !== null),
      'every member seen with the token',
      10_000,
    );
    // A wrong token never reaches the members: refused at the door.
    const wrong = await request(`${url}/v1/cluster`, 'GET', undefined, {
      authorization: 'Bearer raftkit.read.wrong',
    });
    assert.equal(wrong.status, 401);
  });
});

describe('a member whose URL answers something else', () => {
  let cluster: KvCluster;
  let impostor: Server;

  before(async () => {
    // Answers 200 to everything, with JSON that is no node's part.
    impostor = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"hello":"world"}');
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const port = (impostor.address() as AddressInfo).port;
    cluster = await KvCluster.start(3, withDashboard, [0, 1]);
    await cluster.startNode(2, { advertiseUrl: `http://127.0.0.1:${port}` });
    await cluster.leader();
  });
  after(async () => {
    await cluster.close();
    await new Promise<void>((resolve) => impostor.close(() => resolve()));
  });

  test('is marked down with the reason, and the rest of the view is whole', async () => {
    const url = cluster.urls[0] as string;
    const id = cluster.raft[2] as string;
    await until(
      async () => {
        const v = await view(url);
        const m = v.members.find((x) => x.id === id);
        return m?.up === false && /not a raftkit node's part/.test(m.error ?? '');
      },
      'the impostor refused',
      10_000,
    );
    const v = await view(url);
    assert.equal(v.members.filter((m) => m.up).length, 2);
    assert.ok(v.leader !== null);
  });
});

describe('the dashboard over HTTPS with client certificates', () => {
  const ca = newCertificateAuthority({ commonName: 'cluster CA' });
  // The node's certificate serves its API and shows it to the other members' APIs.
  const node = newCertificate(ca, { commonName: 'node', names: ['127.0.0.1'], usage: 'both' });
  const viewer = newCertificate(ca, { commonName: 'viewer', usage: 'client' });
  let cluster: KvCluster;

  before(async () => {
    cluster = await KvCluster.start(3, {
      server: { tls: { cert: node.cert, key: node.key, ca: ca.cert } },
      dashboard: (parts: DashboardParts) =>
        new Dashboard({
          ...parts,
          controls: false,
          peerTls: { ca: ca.cert, cert: node.cert, key: node.key },
        }),
    });
    await cluster.leader();
  });
  after(() => cluster.close());

  test('every member is asked over HTTPS with the node certificate, and seen', async () => {
    const agent = new https.Agent({ ca: ca.cert, cert: viewer.cert, key: viewer.key });
    const get = (path: string) =>
      new Promise<{ status: number; body: ClusterView }>((resolve, reject) => {
        https
          .get(`https://${cluster.http[0]}${path}`, { agent }, (res) => {
            let text = '';
            res.on('data', (c) => {
              text += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
          })
          .on('error', reject);
      });
    await until(
      async () => {
        const r = await get('/v1/cluster');
        return r.status === 200 && r.body.members.length === 3 && r.body.members.every((m) => m.up);
      },
      'every member seen over HTTPS',
      10_000,
    );
    const r = await get('/v1/cluster');
    assert.ok(r.body.members.every((m) => m.url?.startsWith('https://')));
    agent.destroy();
  });
});
