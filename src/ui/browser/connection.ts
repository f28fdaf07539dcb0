/**
 * The page's link to the cluster: the event stream of one member, read with `fetch` (an
 * `EventSource` cannot send a token), and when that member goes quiet or away, the next
 * member's, round the URLs the views name. Requests go to the member the stream comes from.
 */
import type { ClusterView } from '../view-types.js';

export type LinkStatus =
  | { readonly kind: 'connecting'; readonly base: string }
  | { readonly kind: 'live'; readonly base: string }
  | { readonly kind: 'lost'; readonly base: string; readonly why: string }
  | { readonly kind: 'needs-token'; readonly base: string; readonly why: string };

export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

/** Updates come four times a second: this long without one and the member is taken for gone. */
const SILENCE_MS = 2500;
const RETRY_MS = 400;
const TOKEN_KEY = 'raftkit-token';

export class Connection {
  #bases: string[];
  #current: string;
  #token: string | null = sessionStorage.getItem(TOKEN_KEY);
  #abort: AbortController | null = null;
  #stopped = false;
  onView: (view: ClusterView, full: boolean) => void = () => {};
  onStatus: (status: LinkStatus) => void = () => {};

  constructor(origin: string) {
    this.#bases = [origin];
    this.#current = origin;
  }

  get base(): string {
    return this.#current;
  }

  get hasToken(): boolean {
    return this.#token !== null;
  }

  setToken(token: string): void {
    this.#token = token.trim() === '' ? null : token.trim();
    if (this.#token === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, this.#token);
    this.#abort?.abort();
  }

  /** Reads streams until `stop`, moving from member to member as they fail. */
  async run(): Promise<void> {
    while (!this.#stopped) {
      const base = this.#current;
      let why = 'the stream ended';
      try {
        await this.#stream(base);
      } catch (e) {
        why = e instanceof Error ? e.message : String(e);
        if (e instanceof TokenNeeded) {
          this.onStatus({ kind: 'needs-token', base, why });
          await sleep(2000);
          continue;
        }
      }
      if (this.#stopped) return;
      this.onStatus({ kind: 'lost', base, why });
      this.#current = this.#next(base);
      await sleep(RETRY_MS);
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }

  /** A request to the member the page is reading from. */
  async request(method: string, path: string, body?: unknown): Promise<Answer> {
    const headers: Record<string, string> = this.#headers();
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.#current}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Kept as text.
    }
    return { status: res.status, body: parsed };
  }

  #headers(): Record<string, string> {
    return this.#token === null ? {} : { authorization: `Bearer ${this.#token}` };
  }

  #next(failed: string): string {
    const others = this.#bases.filter((b) => b !== failed);
    if (others.length === 0) return failed;
    // The one after the failed one, round the list: every member gets its turn.
    const i = this.#bases.indexOf(failed);
    return this.#bases[(i + 1) % this.#bases.length] ?? (others[0] as string);
  }

  #learn(view: ClusterView): void {
    for (const m of view.members) {
      if (m.url !== null && !this.#bases.includes(m.url)) this.#bases.push(m.url);
    }
  }

  async #stream(base: string): Promise<void> {
    this.onStatus({ kind: 'connecting', base });
    const abort = new AbortController();
    this.#abort = abort;
    let heard = Date.now();
    const watchdog = setInterval(() => {
      if (Date.now() - heard > SILENCE_MS) abort.abort(new Error(`no update for ${SILENCE_MS} ms`));
    }, 250);
    try {
      const res = await fetch(`${base}/v1/cluster/events`, {
        headers: { ...this.#headers(), accept: 'text/event-stream' },
        signal: abort.signal,
      });
      if (res.status === 401 || res.status === 403) {
        const body = (await res.json().catch(() => ({}))) as { error?: string };
        throw new TokenNeeded(body.error ?? `answered ${res.status}`);
      }
      if (!res.ok || res.body === null) throw new Error(`answered ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        heard = Date.now();
        buffer += value;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          this.#event(buffer.slice(0, end), base);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch (e) {
      if (abort.signal.aborted && abort.signal.reason instanceof Error) throw abort.signal.reason;
      throw e;
    } finally {
      clearInterval(watchdog);
    }
  }

  #event(block: string, base: string): void {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (data === '' || (event !== 'view' && event !== 'update')) return;
    const view = JSON.parse(data) as ClusterView;
    this.#learn(view);
    if (event === 'view') this.onStatus({ kind: 'live', base });
    this.onView(view, event === 'view');
  }
}

class TokenNeeded extends Error {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
