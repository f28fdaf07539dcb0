/**
 * The HTTP API (the README's table) on a three-node cluster: every route and its answer, any node
 * answering, 503 without a leader, every malformed request refused with a 400-class JSON
 * error and nothing changed, exactly-once through the session headers, and the metrics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KvCluster, request } from './support.js';

describe('a three-node cluster', () => {
  let cluster: KvCluster;
  let leaderUrl: string;
  let followerUrl: string;

  before(async () => {
    cluster = await KvCluster.start(3);
    const leader = await cluster.leader();
    leaderUrl = cluster.urls[leader] as string;
    followerUrl = cluster.urls[(leader + 1) % 3] as string;
  });
  after(() => cluster.close());

  test('put, get, delete and compare-and-set answer as the README says', async () => {
    const put = await request(`${leaderUrl}/v1/kv/greeting`, 'PUT', '{"value":"hello"}');
    assert.equal(put.status, 200);
    assert.deepEqual(Object.keys(put.body), ['index']);
    const index = put.body.index as number;
    assert.ok(index > 1);
    assert.deepEqual((await request(`${leaderUrl}/v1/kv/greeting`)).body, {
      key: 'greeting',
      value: 'hello',
      index,
    });
    const missing = await request(`${leaderUrl}/v1/kv/nothing`);
    assert.equal(missing.status, 404);
    assert.match(String(missing.body.error), /not found/);

    const cas = (key: string, expected: string | null, value: string | null) =>
      request(`${leaderUrl}/v1/kv/${key}/cas`, 'POST', JSON.stringify({ expected, value }));
    const failed = await cas('greeting', 'bye', 'x');
    assert.equal(failed.status, 200);
    assert.equal(failed.body.succeeded, false);
    assert.ok((failed.body.index as number) > index);
    assert.equal((await cas('greeting', 'hello', 'bonjour')).body.succeeded, true);
    assert.equal((await cas('fresh', null, 'new')).body.succeeded, true); // absent -> set
    assert.equal((await cas('fresh', null, 'again')).body.succeeded, false);
    assert.equal((await cas('fresh', 'new', null)).body.succeeded, true); // delete
    assert.equal((await request(`${leaderUrl}/v1/kv/fresh`)).status, 404);

    const del = await request(`${leaderUrl}/v1/kv/greeting`, 'DELETE');
    assert.equal(del.status, 200);
    assert.equal(del.body.deleted, true);
    assert.equal((await request(`${leaderUrl}/v1/kv/greeting`, 'DELETE')).body.deleted, false);

    // Keys are one path segment, percent-encoded: slashes, spaces, any Unicode.
    const odd = encodeURIComponent('a/b c?ü😀');
    assert.equal((await request(`${leaderUrl}/v1/kv/${odd}`, 'PUT', '{"value":""}')).status, 200);
    assert.equal((await request(`${followerUrl}/v1/kv/${odd}`)).body.key, 'a/b c?ü😀');
  });

  test('a follower answers everything: writes forwarded, reads linearizable', async () => {
    const put = await request(`${followerUrl}/v1/kv/f`, 'PUT', '{"value":"via follower"}');
    assert.equal(put.status, 200);
    // Read at once from every node, linearizably: each sees the write.
    for (const url of cluster.urls) {
      assert.equal((await request(`${url}/v1/kv/f`)).body.value, 'via follower');
    }
    const stale = await request(`${followerUrl}/v1/kv/f?stale=true`);
    assert.ok(stale.status === 200 || stale.status === 404);
    const status = await request(`${followerUrl}/v1/status`);
    assert.deepEqual(Object.keys(status.body).sort(), [
      'appliedIndex',
      'cluster',
      'commitIndex',
      'firstIndex',
      'id',
      'lastIndex',
      'leader',
      'learners',
      'members',
      'role',
      'snapshotIndex',
      'term',
    ]);
    assert.equal(status.body.role, 'follower');
    assert.equal(status.body.leader, cluster.raft[cluster.urls.indexOf(leaderUrl)]);
  });

  test('every malformed request gets a 4xx JSON error, and nothing changes', async () => {
    await request(`${leaderUrl}/v1/kv/keep`, 'PUT', '{"value":"kept"}');
    const before = (await request(`${leaderUrl}/v1/status`)).body.lastIndex as number;
    const big = 'x'.repeat(1024 * 1024 + 1);
    const cases: [string, string, string | undefined, Record<string, string>, number, RegExp][] = [
      ['PUT', '/v1/kv/keep', 'not json', {}, 400, /not JSON/],
      ['PUT', '/v1/kv/keep', '{"value":1}', {}, 400, /value/],
      ['PUT', '/v1/kv/keep', '{"value":null}', {}, 400, /value/],
      ['PUT', '/v1/kv/keep', '{}', {}, 400, /value/],
      ['PUT', '/v1/kv/keep', '{"value":"v","extra":1}', {}, 400, /extra/],
      ['PUT', '/v1/kv/keep', '[]', {}, 400, /invalid body/],
      ['PUT', '/v1/kv/keep', undefined, {}, 400, /not JSON/],
      ['POST', '/v1/kv/keep/cas', '{"value":"v"}', {}, 400, /expected/],
      ['POST', '/v1/kv/keep/cas', '{"expected":1,"value":"v"}', {}, 400, /expected/],
      ['PUT', '/v1/kv/', '{"value":"v"}', {}, 400, /key is empty/],
      ['PUT', '/v1/kv/%E0%A4%A', '{"value":"v"}', {}, 400, /percent-encoded/],
      ['PUT', '/v1/kv/%FF', '{"value":"v"}', {}, 400, /percent-encoded/],
      ['PUT', `/v1/kv/${'k'.repeat(1025)}`, '{"value":"v"}', {}, 400, /key is 1025 bytes/],
      ['PUT', '/v1/kv/keep', JSON.stringify({ value: big }), {}, 413, /value is 1048577 bytes/],
      ['GET', '/v1/kv/keep?stale=yes', undefined, {}, 400, /stale must be/],
      ['GET', '/v1/kv/keep?foo=1', undefined, {}, 400, /unknown parameter/],
      ['GET', '/v1/kv/keep?stale=true&stale=false', undefined, {}, 400, /twice/],
      ['DELETE', '/v1/kv/keep?x', undefined, {}, 400, /unknown parameter/],
      ['GET', '/v1/kv/a/b', undefined, {}, 404, /%2F/],
      ['GET', '/v2/kv/keep', undefined, {}, 404, /no such route/],
      ['POST', '/v1/kv/keep', '{"value":"v"}', {}, 405, /GET, HEAD, PUT or DELETE/],
      ['GET', '/v1/kv/keep/cas', undefined, {}, 405, /POST/],
      ['DELETE', '/v1/status', undefined, {}, 405, /use GET or HEAD$/],
      ['PUT', '/v1/kv/keep', '{"value":"v"}', { 'raftkit-client': '1' }, 400, /together/],
      [
        'PUT',
        '/v1/kv/keep',
        '{"value":"v"}',
        { 'raftkit-client': '1', 'raftkit-seq': '0', 'raftkit-ack': '1' },
        400,
        /raftkit-seq must be one positive integer/,
      ],
      [
        'PUT',
        '/v1/kv/keep',
        '{"value":"v"}',
        { 'raftkit-client': '1', 'raftkit-seq': '1', 'raftkit-ack': '2' },
        400,
        /ack cannot be above/,
      ],
      [
        'PUT',
        '/v1/kv/keep',
        '{"value":"v"}',
        { 'raftkit-client': 'x1', 'raftkit-seq': '1', 'raftkit-ack': '1' },
        400,
        /raftkit-client/,
      ],
    ];
    for (const [method, path, body, headers, status, error] of cases) {
      const r = await request(`${followerUrl}${path}`, method, body, headers);
      assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
      assert.match(String(r.body.error), error, `${method} ${path}`);
    }
    // A body over the limit is refused from its declared length, the connection closed.
    const huge = await request(`${leaderUrl}/v1/kv/keep`, 'PUT', 'x'.repeat(8 * 1024 * 1024 + 1));
    assert.equal(huge.status, 413);
    assert.match(String(huge.body.error), /limit is 8388608/);
    // Nothing was proposed, and the cluster still serves.
    assert.equal((await request(`${leaderUrl}/v1/status`)).body.lastIndex, before);
    assert.equal((await request(`${followerUrl}/v1/kv/keep`)).body.value, 'kept');
  });

  test('a write with a session is applied once however often it is sent', async () => {
    const session = await request(`${followerUrl}/v1/sessions`, 'POST');
    assert.equal(session.status, 200);
    const client = String(session.body.client);
    const headers = (seq: number, ack = 1) => ({
      'raftkit-client': client,
      'raftkit-seq': String(seq),
      'raftkit-ack': String(ack),
    });
    const body = JSON.stringify({ expected: null, value: 'first' });
    const first = await request(`${followerUrl}/v1/kv/once/cas`, 'POST', body, headers(1));
    assert.deepEqual(first.body.succeeded, true);
    // The same request again, through another node: the first answer, not a failed CAS.
    const again = await request(`${leaderUrl}/v1/kv/once/cas`, 'POST', body, headers(1));
    assert.deepEqual(again.body, first.body);
    // Once the client acknowledged it, a late copy is refused, never applied.
    await request(`${leaderUrl}/v1/kv/other`, 'PUT', '{"value":"v"}', headers(2, 2));
    const late = await request(`${leaderUrl}/v1/kv/once/cas`, 'POST', body, headers(1));
    assert.equal(late.status, 409);
    assert.equal(late.body.code, 'stale-request');
    const unknown = await request(`${leaderUrl}/v1/kv/x`, 'PUT', '{"value":"v"}', {
      'raftkit-client': '999999',
      'raftkit-seq': '1',
      'raftkit-ack': '1',
    });
    assert.equal(unknown.status, 409);
    assert.equal(unknown.body.code, 'session-expired');
  });

  test('GET /metrics is Prometheus text with the node, wire and request figures', async () => {
    await request(`${leaderUrl}/v1/kv/m`, 'PUT', '{"value":"v"}');
    const r = await request(`${leaderUrl}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
    const value = (line: RegExp): number => {
      const m = r.text.match(line);
      assert.ok(m, `${line} in metrics`);
      return Number(m[1]);
    };
    assert.equal(value(/^raftkit_role\{role="leader"\} (\d+)$/m), 1);
    assert.equal(value(/^raftkit_role\{role="follower"\} (\d+)$/m), 0);
    assert.ok(value(/^raftkit_term (\d+)$/m) >= 1);
    assert.ok(value(/^raftkit_commit_index (\d+)$/m) > 1);
    assert.ok(value(/^raftkit_applied_index (\d+)$/m) > 1);
    assert.ok(value(/^raftkit_messages_sent_total\{type="append"\} (\d+)$/m) > 0);
    assert.ok(value(/^raftkit_messages_received_total\{type="append-response"\} (\d+)$/m) > 0);
    assert.ok(value(/^raftkit_bytes_sent_total (\d+)$/m) > 0);
    assert.ok(value(/^raftkit_request_duration_seconds_count\{op="put"\} (\d+)$/m) >= 1);
    assert.ok(value(/^raftkit_requests_total\{op="put",status="200"\} (\d+)$/m) >= 1);
    assert.ok(value(/^raftkit_fsync_duration_seconds_count\{synced="true"\} (\d+)$/m) >= 1);
    // Where the put's time went, stage by stage (the README's "Where a write's time goes").
    for (const stage of ['parse', 'append', 'local-fsync', 'quorum', 'apply', 'answer']) {
      const count = new RegExp(
        `^raftkit_write_stage_seconds_count\\{stage="${stage}"\\} (\\d+)$`,
        'm',
      );
      assert.ok(value(count) >= 1, stage);
    }
    assert.ok(value(/^raftkit_linearizable_reads_total\{mode="round"\} (\d+)$/m) >= 0);
    assert.match(r.text, /^process_cpu_seconds_total /m);
  });
});

test('with no leader, 503 and Retry-After; a stale read is still served', async () => {
  // One node of three: it can never win an election.
  const cluster = await KvCluster.start(3, { server: { leaderWaitMs: 100 } }, [0]);
  try {
    const url = cluster.urls[0] as string;
    const put = await request(`${url}/v1/kv/k`, 'PUT', '{"value":"v"}');
    assert.equal(put.status, 503);
    assert.equal(put.headers.get('retry-after'), '1');
    assert.match(String(put.body.error), /no leader/);
    assert.equal((await request(`${url}/v1/kv/k`)).status, 503);
    assert.equal((await request(`${url}/v1/kv/k?stale=true`)).status, 404);
    assert.equal((await request(`${url}/v1/status`)).body.leader, null);
  } finally {
    await cluster.close();
  }
});
