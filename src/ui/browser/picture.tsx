/**
 * The cluster as RaftScope draws it: the members on a ring, coloured by role, and the
 * messages between them as dots flying from sender to receiver (a sample of them).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { MemberView, SampledMessage } from '../view-types.js';
import { shortId } from './model.js';

interface Props {
  readonly members: readonly MemberView[];
  readonly leader: string | null;
  readonly fresh: readonly SampledMessage[];
}

interface Flight {
  readonly from: string;
  readonly to: string;
  readonly type: string;
  readonly ok: boolean | undefined;
  readonly start: number;
}

const SIZE = 300;
const RADIUS = 105;
const FLIGHT_MS = 700;
const MAX_FLIGHTS = 80;

const messageColours: Record<string, string> = {
  append: '#3fb950',
  'append-response': '#8ddb8c',
  heartbeat: '#6e7fa3',
  'heartbeat-response': '#a3b1cc',
  vote: '#f0883e',
  'vote-response': '#f4b27a',
  'timeout-now': '#f85149',
  'install-snapshot': '#bc8cff',
  'read-index': '#e3b341',
  'read-index-response': '#f2cc60',
};

export const messageLegend = Object.entries(messageColours);

function position(i: number, n: number): { x: number; y: number } {
  const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, n);
  return { x: SIZE / 2 + RADIUS * Math.cos(angle), y: SIZE / 2 + RADIUS * Math.sin(angle) };
}

export function Picture({ members, leader, fresh }: Props) {
  const flights = useRef<Flight[]>([]);
  const [, setFrame] = useState(0);

  useEffect(() => {
    if (fresh.length === 0) return;
    const now = performance.now();
    const first = fresh[0]?.t ?? 0;
    for (const m of fresh) {
      // Spread over the update's quarter second as they were sent.
      const offset = Math.min(250, Math.max(0, m.t - first));
      flights.current.push({ from: m.from, to: m.to, type: m.type, ok: m.ok, start: now + offset });
    }
    if (flights.current.length > MAX_FLIGHTS) {
      flights.current.splice(0, flights.current.length - MAX_FLIGHTS);
    }
  }, [fresh]);

  useEffect(() => {
    let handle = 0;
    const step = () => {
      const now = performance.now();
      flights.current = flights.current.filter((f) => now - f.start < FLIGHT_MS);
      setFrame((n) => n + 1);
      handle = requestAnimationFrame(step);
    };
    handle = requestAnimationFrame(step);
    return () => cancelAnimationFrame(handle);
  }, []);

  const index = new Map(members.map((m, i) => [m.id, i]));
  const now = performance.now();
  return (
    <svg
      class="picture"
      viewBox={`0 0 ${SIZE} ${SIZE}`}
      width={SIZE}
      height={SIZE}
      role="img"
      aria-label="the cluster's members and the messages between them"
    >
      <circle cx={SIZE / 2} cy={SIZE / 2} r={RADIUS} class="ring" />
      {flights.current.map((f, k) => {
        const a = index.get(f.from);
        const b = index.get(f.to);
        const progress = (now - f.start) / FLIGHT_MS;
        if (a === undefined || b === undefined || progress < 0) return null;
        const p = position(a, members.length);
        const q = position(b, members.length);
        const x = p.x + (q.x - p.x) * progress;
        const y = p.y + (q.y - p.y) * progress;
        const colour = f.ok === false ? '#f85149' : (messageColours[f.type] ?? '#ccc');
        return <circle key={k} cx={x} cy={y} r={f.type === 'append' ? 6 : 4} fill={colour} />;
      })}
      {members.map((m, i) => {
        const { x, y } = position(i, members.length);
        const role = m.up && m.state !== null ? m.state.role : 'down';
        return (
          <g key={m.id} data-testid="picture-node" data-id={m.id}>
            <circle cx={x} cy={y} r={30} class={`node node-${role}`} />
            {m.id === leader ? (
              <text x={x} y={y - 36} class="crown-text" text-anchor="middle">
                ★ leader
              </text>
            ) : null}
            <text x={x} y={y - 2} class="node-term" text-anchor="middle">
              {m.state === null ? '?' : `t${m.state.term}`}
            </text>
            <text x={x} y={y + 12} class="node-role" text-anchor="middle">
              {role === 'pre-candidate' ? 'pre-vote' : role}
            </text>
            <text x={x} y={y + 46} class="node-name" text-anchor="middle">
              {shortId(m.id)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
