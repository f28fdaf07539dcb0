/** The members table: each node's state, and the leader's view of its followers. */
import type { Controls, MemberView } from '../view-types.js';
import type { LocalAction } from './actions.js';

interface Props {
  readonly members: readonly MemberView[];
  readonly leader: string | null;
  readonly controls: Controls;
  readonly act: (id: string, action: LocalAction) => void;
}

function stateOf(m: MemberView): string {
  if (m.process === 'stopped') return 'stopped';
  if (m.process === 'paused') return 'paused';
  if (!m.up) return 'down';
  if (m.process === 'cut') return 'cut off';
  return 'up';
}

const dash = '–';

export function Members({ members, leader, controls, act }: Props) {
  return (
    <table class="members">
      <thead>
        <tr>
          <th>node</th>
          <th>role</th>
          <th>term</th>
          <th>follows</th>
          <th>commit</th>
          <th>applied</th>
          <th>last</th>
          <th>snapshot</th>
          <th>state</th>
          <th title="the leader's view">match</th>
          <th>next</th>
          <th title="append messages in flight">inflight</th>
          <th>lag</th>
          <th>lag ms</th>
          {controls.local ? <th>process</th> : null}
        </tr>
      </thead>
      <tbody>
        {members.map((m) => {
          const s = m.state;
          const state = stateOf(m);
          const role = m.up && s !== null ? s.role : 'down';
          const p = m.progress;
          return (
            <tr
              key={m.id}
              data-testid="member-row"
              data-id={m.id}
              data-role={role}
              data-up={String(m.up)}
              class={`member ${m.id === leader ? 'is-leader' : ''} ${m.up ? '' : 'is-down'}`}
            >
              <td class="id">
                {m.id === leader ? (
                  <span class="crown" title="leader">
                    ★
                  </span>
                ) : null}
                {m.id}
                {m.learner ? <span class="tag">learner</span> : null}
              </td>
              <td>
                <span class={`role role-${role}`}>{role}</span>
              </td>
              <td>{s?.term ?? dash}</td>
              <td>{s?.leader ?? dash}</td>
              <td>{s?.commitIndex ?? dash}</td>
              <td>{s?.appliedIndex ?? dash}</td>
              <td>{s?.lastIndex ?? dash}</td>
              <td>{s?.snapshotIndex ?? dash}</td>
              <td>
                <span class={`state state-${state.replace(' ', '-')}`} title={m.error ?? ''}>
                  {state}
                </span>
              </td>
              <td>{p?.match ?? dash}</td>
              <td>{p?.next ?? dash}</td>
              <td>{p?.inflight ?? dash}</td>
              <td>{p?.lagEntries ?? dash}</td>
              <td>{p === null ? dash : p.lagMs === null ? '?' : Math.round(p.lagMs)}</td>
              {controls.local ? (
                <td class="process">
                  {processButtons(m).map((a) => (
                    <button
                      type="button"
                      key={a}
                      data-action={a}
                      onClick={() => act(m.id, a)}
                      title={`${a} ${m.id}`}
                      aria-label={`${a} ${m.id}`}
                    >
                      {actionIcons[a]}
                    </button>
                  ))}
                </td>
              ) : null}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** Compact labels (the full name is the button's title). */
const actionIcons: Record<LocalAction, string> = {
  stop: '■',
  pause: '❚❚',
  resume: '▶',
  restart: '↻',
  cut: '✂',
  heal: '⚭',
};

function processButtons(m: MemberView): LocalAction[] {
  switch (m.process) {
    case 'stopped':
      return ['restart'];
    case 'paused':
      return ['resume', 'stop'];
    case 'cut':
      return ['heal', 'stop'];
    default:
      return ['stop', 'pause', 'cut', 'restart'];
  }
}
