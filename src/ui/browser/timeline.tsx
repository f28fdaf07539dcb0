/** Elections, leader changes, snapshots, membership changes, nodes lost and found: newest first. */
import type { ClusterEvent } from '../view-types.js';
import { clock } from './model.js';

export function Timeline({ events }: { readonly events: readonly ClusterEvent[] }) {
  const shown = events.slice(-100).reverse();
  return (
    <ol class="timeline" data-testid="timeline">
      {shown.length === 0 ? <li class="quiet">nothing yet</li> : null}
      {shown.map((e) => (
        <li key={e.key} class={`event event-${e.kind}`} data-kind={e.kind}>
          <time>{clock(e.t)}</time>
          <span class={`kind kind-${e.kind}`}>{e.kind}</span>
          <span class="text">{e.text}</span>
        </li>
      ))}
    </ol>
  );
}
