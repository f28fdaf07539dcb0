/**
 * @module
 * The dashboard's hold on a local `raftkit cluster`: the supervisor that started the nodes
 * can stop, pause, resume and restart their processes, and a node can be cut off from its
 * peers (its transport drops everything, see `CuttableTransport`). A node learns of its
 * supervisor from the environment the supervisor gave it; every request between them
 * carries the secret drawn for that run, so nothing else on the machine can drive them.
 */
import { timingSafeEqual } from 'node:crypto';
import type { LocalAction } from '../kv/index.js';
import type { PeerClient } from './peer-client.js';
import type { ProcessState } from './view-types.js';

/** The supervisor's address and secret, in a child's environment. */
export const SUPERVISOR_URL_ENV = 'RAFTKIT_SUPERVISOR';
export const SUPERVISOR_SECRET_ENV = 'RAFTKIT_SUPERVISOR_SECRET';
/** The header the secret travels in. */
export const SUPERVISOR_HEADER = 'raftkit-supervisor';

export interface SupervisorLink {
  readonly url: string;
  readonly secret: string;
}

/** The link in this process's environment, or null when no supervisor started it. */
export function supervisorFromEnv(env: NodeJS.ProcessEnv = process.env): SupervisorLink | null {
  const url = env[SUPERVISOR_URL_ENV];
  const secret = env[SUPERVISOR_SECRET_ENV];
  if (url === undefined || url === '' || secret === undefined || secret.length < 16) return null;
  const parsed = new URL(url);
  // A supervisor is this machine's: its controls never travel the network.
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) {
    throw new Error(`${SUPERVISOR_URL_ENV} must be a loopback URL, not ${url}`);
  }
  return { url: parsed.origin, secret };
}

/** Whether `given` (a header's value) is the secret, compared in constant time. */
export function secretMatches(given: string | string[] | undefined, secret: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class SupervisorClient {
  readonly #link: SupervisorLink;
  readonly #peers: PeerClient;

  constructor(link: SupervisorLink, peers: PeerClient) {
    this.#link = link;
    this.#peers = peers;
  }

  async processes(): Promise<Readonly<Record<string, ProcessState>>> {
    const answer = await this.#peers.request(`${this.#link.url}/nodes`, {
      headers: { [SUPERVISOR_HEADER]: this.#link.secret },
      timeoutMs: 500,
    });
    if (answer.status !== 200) throw new Error(`the supervisor answered ${answer.status}`);
    return answer.body as Record<string, ProcessState>;
  }

  /** Has the supervisor carry out `action` on node `id`; resolves with its answer. */
  act(id: string, action: LocalAction): Promise<{ status: number; body: unknown }> {
    return this.#peers.request(`${this.#link.url}/nodes/${encodeURIComponent(id)}/${action}`, {
      method: 'POST',
      headers: { [SUPERVISOR_HEADER]: this.#link.secret },
      timeoutMs: 5000,
    });
  }
}
