/**
 * Each member's log as a strip of its last entries, one cell per index, coloured by term;
 * the commit point is a bar after the last committed cell, and what a snapshot holds is
 * hatched. Columns line up across members, so a follower behind shows empty cells.
 */
import type { MemberView } from '../view-types.js';
import { shortId, termColour } from './model.js';

const CELLS = 30;

function termAt(runs: readonly (readonly [number, number])[], index: number): number | null {
  let term: number | null = null;
  for (const [start, t] of runs) {
    if (start > index) break;
    term = t;
  }
  return term;
}

export function LogStrips({ members }: { readonly members: readonly MemberView[] }) {
  const last = Math.max(0, ...members.map((m) => m.state?.lastIndex ?? 0));
  const from = Math.max(1, last - CELLS + 1);
  const indexes = Array.from({ length: Math.min(CELLS, last) }, (_, k) => from + k);
  return (
    <div class="strips">
      <div class="strip-row strip-head">
        <span class="strip-name">index</span>
        {indexes.map((i) => (
          <span class="cell head" key={i}>
            {i % 5 === 0 ? i : ''}
          </span>
        ))}
      </div>
      {members.map((m) => {
        const s = m.state;
        const log = m.log;
        return (
          <div class="strip-row" data-testid="log-strip" data-id={m.id} key={m.id}>
            <span class="strip-name">{shortId(m.id)}</span>
            {indexes.map((i) => {
              if (s === null || log === null || i > s.lastIndex) {
                return <span class="cell empty" key={i} />;
              }
              const inSnapshot = i <= s.snapshotIndex;
              const term = i >= log.from ? termAt(log.terms, i) : null;
              const classes = [
                'cell',
                inSnapshot ? 'snap' : '',
                i === s.commitIndex ? 'commit' : '',
                i > s.commitIndex ? 'uncommitted' : '',
              ].join(' ');
              return (
                <span
                  class={classes}
                  key={i}
                  title={`${m.id} #${i} term ${term ?? '?'}${inSnapshot ? ' (in the snapshot)' : ''}${i <= s.commitIndex ? ', committed' : ''}`}
                  style={term === null ? undefined : { backgroundColor: termColour(term) }}
                >
                  {term ?? ''}
                </span>
              );
            })}
            <span class="strip-note">
              {s === null ? '' : `commit ${s.commitIndex} · snapshot ${s.snapshotIndex}`}
            </span>
          </div>
        );
      })}
    </div>
  );
}
