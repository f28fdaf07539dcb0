/** The dashboard page: one live view of the cluster, from whichever member answers. */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { LocalAction } from './actions.js';
import { Charts } from './charts.js';
import { Connection, type LinkStatus } from './connection.js';
import { ControlPanel } from './controls.js';
import { LogStrips } from './log-strips.js';
import { Members } from './members.js';
import { emptyModel, type Model, merge } from './model.js';
import { messageLegend, Picture } from './picture.js';
import { Timeline } from './timeline.js';

function App() {
  const connection = useMemo(() => new Connection(location.origin), []);
  const [model, setModel] = useState<Model>(emptyModel);
  const [status, setStatus] = useState<LinkStatus>({ kind: 'connecting', base: location.origin });
  const [token, setToken] = useState('');
  const [notice, setNotice] = useState('');

  useEffect(() => {
    connection.onView = (view, full) => setModel((m) => merge(m, view, full));
    connection.onStatus = setStatus;
    void connection.run();
    return () => connection.stop();
  }, [connection]);

  const view = model.view;
  const act = async (id: string, action: LocalAction) => {
    setNotice(`${action} ${id}: …`);
    try {
      const a = await connection.request(
        'POST',
        `/v1/cluster/nodes/${encodeURIComponent(id)}/${action}`,
      );
      setNotice(
        `${action} ${id}: ${a.status === 200 ? 'done' : `${a.status} ${JSON.stringify(a.body)}`}`,
      );
    } catch (e) {
      // Stopping the member the page reads from takes its answer with it.
      setNotice(`${action} ${id}: sent (no answer: ${(e as Error).message})`);
    }
  };

  return (
    <main>
      <header>
        <h1>raftkit</h1>
        <span class="cluster">
          {view?.cluster === null || view === null ? '' : `cluster ${view.cluster.slice(0, 12)}`}
        </span>
        <span class={`link link-${status.kind}`} data-testid="link" data-status={status.kind}>
          {status.kind === 'live'
            ? `live from ${status.base}`
            : `${status.kind}: ${status.base}${'why' in status ? ` (${status.why})` : ''}`}
        </span>
        <span class="leader" data-testid="leader" data-leader={view?.leader ?? ''}>
          leader <b>{view?.leader ?? 'none'}</b> · term <b>{view?.term ?? '?'}</b>
        </span>
        {status.kind === 'needs-token' || connection.hasToken ? (
          <form
            class="token"
            onSubmit={(e) => {
              e.preventDefault();
              connection.setToken(token);
            }}
          >
            <input
              type="password"
              placeholder="token"
              aria-label="token"
              value={token}
              onInput={(e) => setToken(e.currentTarget.value)}
            />
            <button type="submit">use token</button>
          </form>
        ) : null}
      </header>
      {view === null ? (
        <p class="quiet">waiting for the first view…</p>
      ) : (
        <>
          <section class="top">
            <div class="panel">
              <h2>cluster</h2>
              <Picture members={view.members} leader={view.leader} fresh={model.fresh} />
              <ul class="legend">
                {messageLegend.map(([type, colour]) => (
                  <li key={type}>
                    <i style={{ background: colour }} /> {type}
                  </li>
                ))}
              </ul>
            </div>
            <div class="panel grow">
              <h2>members</h2>
              <div class="table-box">
                <Members
                  members={view.members}
                  leader={view.leader}
                  controls={view.controls}
                  act={act}
                />
              </div>
              {notice === '' ? null : (
                <p class="notice" data-testid="notice">
                  {notice}
                </p>
              )}
              <h2>logs</h2>
              <LogStrips members={view.members} />
            </div>
          </section>
          <section class="panel">
            <h2>the last minutes</h2>
            <Charts points={model.chart} />
          </section>
          <section class="bottom">
            <div class="panel grow">
              <h2>timeline</h2>
              <Timeline events={model.events} />
            </div>
            {view.controls.enabled ? (
              <div class="panel">
                <h2>controls</h2>
                <ControlPanel
                  members={view.members}
                  request={(m, p, b) => connection.request(m, p, b)}
                />
              </div>
            ) : null}
          </section>
        </>
      )}
    </main>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
