/**
 * The admin's controls (shown only when the node allows them): put and get a key, transfer
 * leadership, add, promote and remove members. Each is a plain API request to the member the
 * page reads from, with the page's token; the answer is shown as it came.
 */
import { useState } from 'preact/hooks';
import type { MemberView } from '../view-types.js';
import type { Answer } from './connection.js';

interface Props {
  readonly members: readonly MemberView[];
  readonly request: (method: string, path: string, body?: unknown) => Promise<Answer>;
}

function describe(what: string, a: Answer): string {
  const body = typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
  return `${what}: ${a.status} ${body}`;
}

export function ControlPanel({ members, request }: Props) {
  const [key, setKey] = useState('greeting');
  const [value, setValue] = useState('hello');
  const [target, setTarget] = useState('');
  const [newId, setNewId] = useState('');
  const [newAddress, setNewAddress] = useState('');
  const [learner, setLearner] = useState(true);
  const [result, setResult] = useState('');
  const ids = members.map((m) => m.id);
  const chosen = target !== '' && ids.includes(target) ? target : (ids[0] ?? '');

  const run = async (what: string, method: string, path: string, body?: unknown) => {
    setResult(`${what}: …`);
    try {
      setResult(describe(what, await request(method, path, body)));
    } catch (e) {
      setResult(`${what}: no answer (${(e as Error).message})`);
    }
  };
  const k = encodeURIComponent(key);
  const id = encodeURIComponent(chosen);

  return (
    <div class="controls" data-testid="controls">
      <div class="control-row">
        <input aria-label="key" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        <input aria-label="value" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        <button
          type="button"
          data-control="put"
          onClick={() => run(`put ${key}`, 'PUT', `/v1/kv/${k}`, { value })}
        >
          put
        </button>
        <button
          type="button"
          data-control="get"
          onClick={() => run(`get ${key}`, 'GET', `/v1/kv/${k}`)}
        >
          get
        </button>
      </div>
      <div class="control-row">
        <select
          aria-label="member"
          value={chosen}
          onChange={(e) => setTarget(e.currentTarget.value)}
        >
          {ids.map((i) => (
            <option key={i} value={i}>
              {i}
            </option>
          ))}
        </select>
        <button
          type="button"
          data-control="transfer"
          onClick={() => run(`transfer to ${chosen}`, 'POST', '/v1/leader', { to: chosen })}
        >
          make leader
        </button>
        <button
          type="button"
          data-control="promote"
          onClick={() => run(`promote ${chosen}`, 'POST', `/v1/members/${id}/promote`)}
        >
          promote
        </button>
        <button
          type="button"
          data-control="remove"
          onClick={() => run(`remove ${chosen}`, 'DELETE', `/v1/members/${id}`)}
        >
          remove
        </button>
      </div>
      <div class="control-row">
        <input
          aria-label="new member id"
          placeholder="id"
          value={newId}
          onInput={(e) => setNewId(e.currentTarget.value)}
        />
        <input
          aria-label="new member address"
          placeholder="host:port (raft)"
          value={newAddress}
          onInput={(e) => setNewAddress(e.currentTarget.value)}
        />
        <label>
          <input
            type="checkbox"
            checked={learner}
            onChange={(e) => setLearner(e.currentTarget.checked)}
          />{' '}
          learner
        </label>
        <button
          type="button"
          data-control="add"
          onClick={() =>
            run(`add ${newId}`, 'POST', '/v1/members', { id: newId, address: newAddress, learner })
          }
        >
          add member
        </button>
      </div>
      <output class="result" data-testid="control-result">
        {result}
      </output>
    </div>
  );
}
