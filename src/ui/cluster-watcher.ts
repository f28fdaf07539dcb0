/**
 * @module
 * The cluster as one node sees it for the dashboard: every few hundred milliseconds it asks
 * each member for its part (`/v1/cluster/self`, its own directly), and merges what they
 * recorded into one timeline, one stream of sampled messages and one chart, each item
 * numbered so that every viewer reads only what is new to it. A member that stops
 * answering is marked down (an event says when), and up again when it answers.
 */
import { type Histogram, mergeHistogram, quantileMs, type SelfQuery } from '../kv/index.js';
import type { PeerClient } from './peer-client.js';
import type {
  ChartPoint,
  ClusterEvent,
  ClusterView,
  Controls,
  FollowerProgress,
  MemberView,
  ProcessState,
  SampledMessage,
  SelfView,
} from './view-types.js';

export const POLL_MS = 250;
/** A member's answer must come within this, or the poll counts as missed. */
const ANSWER_MS = 800;
/** How long a round waits for the members' answers before it reports what it has. */
const ROUND_WAIT_MS = 200;
/** Missed polls in a row before a member is marked down (a GC pause is not a death). */
const MISSES_TO_DOWN = 2;
/** A second is charted once this long has passed since it ended (members report late). */
const CHART_DELAY_MS = 2500;
const KEEP_EVENTS = 300;
const KEEP_MESSAGES = 400;
const KEEP_CHART = 300;
/** Messages older than this when they arrive are not animated. */
const MESSAGE_FRESH_MS = 3000;

export interface WatcherSource {
  readonly id: string;
  /** This node's own part, since the cursors. */
  self(query: SelfQuery): SelfView;
  readonly peers: PeerClient;
  /** Passed on to the members (the viewer's token). */
  readonly authorization: string | undefined;
  /** The local supervisor's view of its processes, when there is one. */
  processes?(): Promise<Readonly<Record<string, ProcessState>>>;
  readonly controls: Controls;
  now?(): number;
}

/** What a viewer has read so far. */
export interface Cursor {
  events: number;
  messages: number;
  chart: number;
}

interface MemberTrack {
  readonly id: string;
  url: string | null;
  part: SelfView | null;
  up: boolean;
  everUp: boolean;
  misses: number;
  lastAnswer: number | null;
  polling: boolean;
  error: string | null;
  query: { events: number; messages: number; activity: number };
}

interface Numbered<T> {
  readonly n: number;
  readonly item: T;
}

interface OpenSecond {
  writes: number;
  reads: number;
  writeMs: Histogram;
  readMs: Histogram;
  fsyncMs: Histogram;
}

export class ClusterWatcher {
  readonly #source: WatcherSource;
  readonly #now: () => number;
  readonly #members = new Map<string, MemberTrack>();
  #n = 0;
  readonly #events: Numbered<ClusterEvent>[] = [];
  readonly #eventKeys = new Set<string>();
  readonly #messages: Numbered<SampledMessage>[] = [];
  readonly #chart: Numbered<ChartPoint>[] = [];
  readonly #seconds = new Map<number, OpenSecond>();
  #lastCharted = 0;
  #processes: Readonly<Record<string, ProcessState>> = {};
  #lastPoll = 0;
  #polling: Promise<void> | null = null;
  readonly #listeners = new Set<() => void>();
  #timer: NodeJS.Timeout | null = null;

  constructor(source: WatcherSource) {
    this.#source = source;
    this.#now = source.now ?? Date.now;
  }

  /** When the last round of polls finished (ms since the epoch; 0 before the first). */
  get lastPoll(): number {
    return this.#lastPoll;
  }

  get watching(): number {
    return this.#listeners.size;
  }

  /** Runs one round of polls (or joins the one under way). */
  poll(): Promise<void> {
    this.#polling ??= this.#round().finally(() => {
      this.#polling = null;
      this.#lastPoll = this.#now();
      for (const l of this.#listeners) l();
    });
    return this.#polling;
  }

  /** Calls `listener` after every round; polls go on while anyone listens. */
  listen(listener: () => void): () => void {
    this.#listeners.add(listener);
    if (this.#timer === null) {
      this.#timer = setInterval(() => void this.poll(), POLL_MS);
      this.#timer.unref();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#timer !== null) {
        clearInterval(this.#timer);
        this.#timer = null;
      }
    };
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#listeners.clear();
    this.#source.peers.close();
  }

  /** A cursor at the start: its first view holds all the history kept. */
  static start(): Cursor {
    return { events: 0, messages: 0, chart: 0 };
  }

  /** The cluster now, with what is new since `cursor` (which moves on). */
  view(cursor: Cursor): ClusterView {
    const now = this.#now();
    const events = newer(this.#events, cursor.events);
    const messages = newer(this.#messages, cursor.messages);
    const chart = newer(this.#chart, cursor.chart);
    cursor.events = this.#events.at(-1)?.n ?? cursor.events;
    cursor.messages = this.#messages.at(-1)?.n ?? cursor.messages;
    cursor.chart = this.#chart.at(-1)?.n ?? cursor.chart;
    const { leader, term } = this.#leader();
    const leaderPart = leader === null ? null : (this.#members.get(leader)?.part ?? null);
    const progress = new Map<string, FollowerProgress>(
      (leaderPart?.followers ?? []).map((f) => [f.id, f]),
    );
    const self = this.#members.get(this.#source.id)?.part ?? null;
    const voters = new Set(self?.state.voters ?? []);
    const learners = new Set(self?.state.learners ?? []);
    const members: MemberView[] = [...this.#members.values()]
      .filter((m) => voters.has(m.id) || learners.has(m.id))
      // Voters first, then learners (each by id).
      .sort((a, b) => {
        const rank = Number(learners.has(a.id)) - Number(learners.has(b.id));
        return rank !== 0 ? rank : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
      })
      .map((m) => ({
        id: m.id,
        url: m.url,
        voter: voters.has(m.id),
        learner: learners.has(m.id),
        up: m.up,
        process: this.#processes[m.id] ?? null,
        state: m.part?.state ?? null,
        progress: progress.get(m.id) ?? null,
        log: m.part?.log ?? null,
        silentMs: m.lastAnswer === null ? null : Math.max(0, now - m.lastAnswer),
        ...(m.error === null ? {} : { error: m.error }),
      }));
    return {
      servedBy: this.#source.id,
      time: now,
      cluster: self?.cluster ?? null,
      leader,
      term,
      members,
      events: events.map((e) => e.item),
      messages: messages.map((m) => m.item),
      chart: chart.map((c) => c.item),
      controls: this.#source.controls,
    };
  }

  /**
   * The leader: the member that says it leads in the highest term among those that say so;
   * without one (the leader does not answer this node), the leader the members of the
   * highest term name. A member cut off by the dashboard is not counted: it knows nothing.
   */
  #leader(): { leader: string | null; term: number } {
    let term = 0;
    let claimed: { id: string; term: number } | null = null;
    const named = new Map<string, number>();
    for (const m of this.#members.values()) {
      const s = m.up && m.part !== null && !m.part.cut ? m.part.state : undefined;
      if (s === undefined) continue;
      if (s.term > term) {
        term = s.term;
        named.clear();
      }
      if (s.role === 'leader' && (claimed === null || s.term > claimed.term)) {
        claimed = { id: m.id, term: s.term };
      }
      if (s.term === term && s.leader !== null) {
        named.set(s.leader, (named.get(s.leader) ?? 0) + 1);
      }
    }
    if (claimed !== null && claimed.term === term) return { leader: claimed.id, term };
    let leader: string | null = null;
    let votes = 0;
    for (const [id, n] of named) {
      if (n > votes) {
        leader = id;
        votes = n;
      }
    }
    return { leader, term };
  }

  async #round(): Promise<void> {
    const source = this.#source;
    const now = this.#now();
    const self = this.#track(source.id);
    const mine = source.self(self.query);
    this.#answered(self, mine, now);
    // Members come from the configuration this node knows; their URLs from the log.
    for (const id of [...mine.state.voters, ...mine.state.learners]) {
      const m = this.#track(id);
      m.url = mine.urls[id] ?? m.url;
    }
    if (source.processes !== undefined) {
      this.#processes = await source.processes().catch(() => ({}));
    }
    const polls = Promise.all(
      [...this.#members.values()]
        .filter((m) => m.id !== source.id && !m.polling)
        .map((m) => this.#pollMember(m)),
    );
    // A member that is slow to answer (paused, overloaded) does not hold the round, and so
    // every viewer's updates, up to its deadline: its answer is taken when it comes, and
    // it is not asked again meanwhile.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      polls,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ROUND_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    this.#chartSeconds();
  }

  async #pollMember(m: MemberTrack): Promise<void> {
    if (m.url === null) {
      m.error = 'no HTTP URL advertised yet';
      return;
    }
    m.polling = true;
    const q = m.query;
    try {
      const answer = await this.#source.peers.request(
        `${m.url}/v1/cluster/self?events=${q.events}&messages=${q.messages}&activity=${q.activity}`,
        { authorization: this.#source.authorization, timeoutMs: ANSWER_MS },
      );
      if (answer.status !== 200) {
        const why = (answer.body as { error?: string } | null)?.error ?? '';
        throw new Error(`answered ${answer.status} ${why}`.trim());
      }
      this.#answered(m, selfViewOf(answer.body), this.#now());
    } catch (e) {
      this.#missed(m, (e as Error).message);
    } finally {
      m.polling = false;
    }
  }

  #track(id: string): MemberTrack {
    let m = this.#members.get(id);
    if (m === undefined) {
      m = {
        id,
        url: null,
        part: null,
        up: false,
        everUp: false,
        misses: 0,
        lastAnswer: null,
        polling: false,
        error: null,
        query: { events: 0, messages: 0, activity: 0 },
      };
      this.#members.set(id, m);
    }
    return m;
  }

  #answered(m: MemberTrack, part: SelfView, now: number): void {
    if (m.part !== null && m.part.boot !== part.boot) {
      // It restarted: its records are numbered from 1 again, and the cursors sent were the
      // old life's. Read everything it kept next time (what was seen is not repeated).
      m.query = { events: 0, messages: 0, activity: m.query.activity };
      m.part = part;
      return;
    }
    if (!m.up && m.everUp) {
      this.#event({
        kind: 'found',
        node: m.id,
        text: `${m.id} answers again`,
        key: `found:${m.id}:${now}`,
        t: now,
      });
    }
    m.up = true;
    m.everUp = true;
    m.misses = 0;
    m.error = null;
    m.lastAnswer = now;
    m.part = part;
    if (part.url !== null) m.url = part.url;
    for (const e of part.events) this.#event(e);
    for (const msg of part.messages) {
      if (msg.t < now - MESSAGE_FRESH_MS) continue;
      this.#push(this.#messages, msg, KEEP_MESSAGES);
    }
    for (const s of part.activity) {
      if (s.t <= this.#lastCharted) continue;
      let open = this.#seconds.get(s.t);
      if (open === undefined) {
        open = { writes: 0, reads: 0, writeMs: {}, readMs: {}, fsyncMs: {} };
        this.#seconds.set(s.t, open);
      }
      open.writes += s.writes;
      open.reads += s.reads;
      mergeHistogram(open.writeMs, s.writeMs);
      mergeHistogram(open.readMs, s.readMs);
      mergeHistogram(open.fsyncMs, s.fsyncMs);
    }
    m.query = {
      events: part.events.at(-1)?.seq ?? m.query.events,
      messages: part.messages.at(-1)?.seq ?? m.query.messages,
      activity: part.activity.at(-1)?.t ?? m.query.activity,
    };
  }

  #missed(m: MemberTrack, why: string): void {
    m.misses++;
    m.error = why;
    const stopped = this.#processes[m.id] === 'stopped';
    const down = m.misses >= MISSES_TO_DOWN || stopped;
    // Lost: it answered and no longer does; or, down already when this node began to
    // watch, it never did (said once).
    if (down && (m.up || (!m.everUp && m.misses === (stopped ? 1 : MISSES_TO_DOWN)))) {
      const now = this.#now();
      this.#event({
        kind: 'lost',
        node: m.id,
        text: m.up ? `${m.id} stopped answering (${why})` : `${m.id} does not answer (${why})`,
        key: `lost:${m.id}:${now}`,
        t: now,
      });
      m.up = false;
    }
    // A node that restarts numbers its records from 1 again: read them all from it.
    if (!m.up) m.query = { events: 0, messages: 0, activity: m.query.activity };
  }

  #event(e: Omit<ClusterEvent, 'seq'> & { seq?: number }): void {
    if (this.#eventKeys.has(e.key)) return;
    this.#eventKeys.add(e.key);
    this.#push(this.#events, { seq: 0, ...e } as ClusterEvent, KEEP_EVENTS, (dropped) =>
      this.#eventKeys.delete(dropped.key),
    );
  }

  #push<T>(list: Numbered<T>[], item: T, keep: number, dropped?: (item: T) => void): void {
    list.push({ n: ++this.#n, item });
    while (list.length > keep) {
      const old = list.shift() as Numbered<T>;
      dropped?.(old.item);
    }
  }

  /** Seconds old enough that every member has reported them become chart points. */
  #chartSeconds(): void {
    const cutoff = this.#now() - CHART_DELAY_MS - 1000;
    const ready = [...this.#seconds.keys()].filter((t) => t <= cutoff).sort((a, b) => a - b);
    if (ready.length === 0) return;
    const { leader } = this.#leader();
    const followers = leader === null ? [] : (this.#members.get(leader)?.part?.followers ?? []);
    const lag = Object.fromEntries(followers.map((f) => [f.id, f.lagEntries]));
    for (const t of ready) {
      const s = this.#seconds.get(t) as OpenSecond;
      this.#seconds.delete(t);
      this.#lastCharted = Math.max(this.#lastCharted, t);
      this.#push(
        this.#chart,
        {
          t,
          writes: s.writes,
          reads: s.reads,
          writeP50: quantileMs(s.writeMs, 0.5),
          writeP99: quantileMs(s.writeMs, 0.99),
          readP50: quantileMs(s.readMs, 0.5),
          readP99: quantileMs(s.readMs, 0.99),
          fsyncP50: quantileMs(s.fsyncMs, 0.5),
          fsyncP99: quantileMs(s.fsyncMs, 0.99),
          lag,
        },
        KEEP_CHART,
      );
    }
  }
}

/**
 * A member's answer, checked for the shape the merge relies on: whatever answers at a URL
 * (an older raftkit, another server) is a failed poll, not a corrupt view.
 */
function selfViewOf(body: unknown): SelfView {
  const v = body as Partial<SelfView> | null;
  const ok =
    typeof v === 'object' &&
    v !== null &&
    typeof v.id === 'string' &&
    typeof v.boot === 'string' &&
    typeof v.state === 'object' &&
    v.state !== null &&
    typeof v.state.term === 'number' &&
    Array.isArray(v.state.voters) &&
    Array.isArray(v.followers) &&
    typeof v.log === 'object' &&
    v.log !== null &&
    Array.isArray(v.log.terms) &&
    Array.isArray(v.events) &&
    Array.isArray(v.messages) &&
    Array.isArray(v.activity) &&
    typeof v.urls === 'object' &&
    v.urls !== null;
  if (!ok) throw new Error("the answer is not a raftkit node's part of the cluster view");
  return v as SelfView;
}

function newer<T>(list: readonly Numbered<T>[], n: number): Numbered<T>[] {
  let i = list.length;
  while (i > 0 && (list[i - 1] as Numbered<T>).n > n) i--;
  return list.slice(i);
}
