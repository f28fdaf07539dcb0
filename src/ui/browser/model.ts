/**
 * What the page holds: the latest view of the members, and the histories the updates add to
 * (the timeline, the chart points, the messages still to animate).
 */
import type { ChartPoint, ClusterEvent, ClusterView, SampledMessage } from '../view-types.js';

const KEEP_EVENTS = 200;
const KEEP_POINTS = 300;

export interface Model {
  readonly view: ClusterView | null;
  readonly events: readonly ClusterEvent[];
  readonly chart: readonly ChartPoint[];
  /** Messages that arrived with the last update, for the picture to animate. */
  readonly fresh: readonly SampledMessage[];
  readonly updates: number;
}

export const emptyModel: Model = { view: null, events: [], chart: [], fresh: [], updates: 0 };

/** The model after a view (`full`: the first of a stream, with all history) or an update. */
export function merge(model: Model, view: ClusterView, full: boolean): Model {
  // A full view comes from a member the page (re)connected to: what the page saw before
  // stays, what that member adds joins it (the same event seen twice has one key).
  const seen = new Set(model.events.map((e) => e.key));
  const events = [...model.events, ...view.events.filter((e) => !seen.has(e.key))];
  events.sort((a, b) => a.t - b.t);
  // A full view comes from a member the page (re)connected to: for a second both have, the
  // point with more requests counted wins (the other was drawn without a node that served).
  const byTime = new Map(model.chart.map((p) => [p.t, p]));
  for (const p of view.chart) {
    const had = byTime.get(p.t);
    if (!full && had !== undefined) continue;
    if (had === undefined || p.writes + p.reads >= had.writes + had.reads) byTime.set(p.t, p);
  }
  const chart = [...byTime.values()].sort((a, b) => a.t - b.t);
  return {
    view,
    events: events.slice(-KEEP_EVENTS),
    chart: chart.slice(-KEEP_POINTS),
    fresh: full ? [] : view.messages,
    updates: model.updates + 1,
  };
}

/** A colour per term, far apart for neighbouring terms. */
export function termColour(term: number): string {
  return `hsl(${(term * 137.508) % 360} 65% 55%)`;
}

export function clock(t: number): string {
  const d = new Date(t);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** A short name for a node id (an address keeps its port). */
export function shortId(id: string): string {
  return id.length <= 14 ? id : `…${id.slice(-12)}`;
}
