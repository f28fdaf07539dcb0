/**
 * @module
 * What an HTTP request to the key-value API may be, checked before anything is proposed:
 * the route, the key, the query parameters, the session headers and the JSON body (with zod).
 * Anything else is a `BadRequestError` whose message says what is wrong.
 */
import { z } from 'zod';
import type { SessionRef } from './commands.js';
import { BadRequestError } from './errors.js';

export interface KvLimits {
  /** Longest key, in UTF-8 bytes. Default 1 KiB. */
  readonly maxKeyBytes: number;
  /** Longest value, in UTF-8 bytes. Default 1 MiB. */
  readonly maxValueBytes: number;
  /** Largest request body, in bytes (JSON escapes can make it larger than the value). */
  readonly maxBodyBytes: number;
}

export const defaultKvLimits: KvLimits = {
  maxKeyBytes: 1024,
  maxValueBytes: 1024 * 1024,
  maxBodyBytes: 8 * 1024 * 1024,
};

export type Route =
  | { readonly op: 'get'; readonly key: string; readonly stale: boolean }
  | { readonly op: 'put'; readonly key: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string }
  | { readonly op: 'register' }
  | { readonly op: 'status' }
  | { readonly op: 'metrics' }
  | { readonly op: 'members' }
  | { readonly op: 'add-member' }
  | { readonly op: 'promote-member'; readonly id: string }
  | { readonly op: 'remove-member'; readonly id: string }
  | { readonly op: 'transfer-leader' }
  | { readonly op: 'test-clock' }
  | { readonly op: 'healthz' }
  | { readonly op: 'readyz' }
  | { readonly op: 'snapshot' }
  | DashboardRoute;

/** What `/v1/cluster/self` is asked for: what the caller has already seen. */
export interface SelfQuery {
  /** Events with a sequence number above this (0: all kept). */
  readonly events: number;
  /** Sampled messages above this sequence number. */
  readonly messages: number;
  /** Activity seconds that began after this (ms since the epoch; 0: all kept). */
  readonly activity: number;
}

/** What the dashboard's local controls do to a node of a `raftkit cluster`. */
export const localActions = ['stop', 'pause', 'resume', 'restart', 'cut', 'heal'] as const;
export type LocalAction = (typeof localActions)[number];

/** The dashboard's routes (served by `ui/`, through `KvServerOptions.dashboard`). */
export type DashboardRoute =
  | { readonly op: 'ui'; readonly asset: string }
  | { readonly op: 'cluster' }
  | { readonly op: 'cluster-events' }
  | { readonly op: 'cluster-self'; readonly query: SelfQuery }
  | { readonly op: 'cluster-control'; readonly id: string; readonly action: LocalAction }
  | { readonly op: 'cluster-cut' };

/** What a token must be allowed to do a request (see `auth.ts`): each role includes those before it. */
export type Role = 'read' | 'write' | 'admin';

/**
 * The role each route needs once authentication is on. `probe` routes (metrics and health)
 * need `read`, or nothing when the node leaves them open (`--open-probes`).
 */
export const roleOfRoute: Readonly<Record<Route['op'], Role | 'probe' | 'public'>> = {
  // The page's own files hold no data: a browser loads them without a token, then asks
  // for one when the data it needs answers 401.
  ui: 'public',
  cluster: 'read',
  'cluster-events': 'read',
  'cluster-self': 'read',
  'cluster-control': 'admin',
  // Also needs the supervisor's secret (see `ui/local-controls.ts`).
  'cluster-cut': 'admin',
  get: 'read',
  status: 'read',
  members: 'read',
  metrics: 'probe',
  healthz: 'probe',
  readyz: 'probe',
  register: 'write',
  put: 'write',
  delete: 'write',
  cas: 'write',
  'add-member': 'admin',
  'promote-member': 'admin',
  'remove-member': 'admin',
  'transfer-leader': 'admin',
  snapshot: 'admin',
  'test-clock': 'admin',
};

/** The methods of each kind of route: HEAD wherever GET is (answered without the body). */
const methodsOf: Record<string, readonly string[]> = {
  kv: ['GET', 'HEAD', 'PUT', 'DELETE'],
  cas: ['POST'],
  register: ['POST'],
  status: ['GET', 'HEAD'],
  metrics: ['GET', 'HEAD'],
  members: ['GET', 'HEAD', 'POST'],
  member: ['DELETE'],
  promote: ['POST'],
  leader: ['POST'],
  'test-clock': ['GET', 'HEAD', 'POST'],
  health: ['GET', 'HEAD'],
  snapshot: ['GET'],
  ui: ['GET', 'HEAD'],
  cluster: ['GET', 'HEAD'],
  control: ['POST'],
};

/** The method is not one of the route's: `allow` lists those that are (the `Allow` header). */
export class MethodNotAllowedError extends BadRequestError {
  readonly allow: readonly string[];

  constructor(method: string, allow: readonly string[]) {
    const choices =
      allow.length > 1 ? `${allow.slice(0, -1).join(', ')} or ${allow.at(-1)}` : allow[0];
    super(`${method} is not allowed here; use ${choices}`, 405);
    this.allow = allow;
  }
}

function methodNotAllowed(kind: string, method: string): MethodNotAllowedError {
  return new MethodNotAllowedError(method, methodsOf[kind] ?? []);
}

/**
 * The route of `method` and `url` (path and query as sent), with its key and parameters.
 * A HEAD request has the route of the same GET.
 */
export function parseRoute(method: string, url: string, limits: KvLimits): Route {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const params = parseQuery(q < 0 ? '' : url.slice(q + 1));
  const parts = path.split('/');
  if (parts[0] !== '' || parts[1] !== 'v1') {
    if (parts[1] === 'ui' && parts.length <= 3) {
      return only(method, 'ui', params, { op: 'ui', asset: parts[2] ?? '' });
    }
    if (path === '/metrics') return only(method, 'metrics', params, { op: 'metrics' });
    if (path === '/healthz') return only(method, 'health', params, { op: 'healthz' });
    if (path === '/readyz') return only(method, 'health', params, { op: 'readyz' });
    throw new BadRequestError(`no such route: ${path}`, 404);
  }
  if (parts.length === 3 && parts[2] === 'status') {
    return only(method, 'status', params, { op: 'status' });
  }
  if (parts.length === 3 && parts[2] === 'sessions') {
    return only(method, 'register', params, { op: 'register' });
  }
  if (parts[2] === 'members') return parseMemberRoute(method, parts, params, path);
  if (parts[2] === 'cluster') return parseClusterRoute(method, parts, params, path);
  if (parts.length === 3 && parts[2] === 'leader') {
    return only(method, 'leader', params, { op: 'transfer-leader' });
  }
  if (parts.length === 3 && parts[2] === 'snapshot') {
    return only(method, 'snapshot', params, { op: 'snapshot' });
  }
  if (parts.length === 4 && parts[2] === 'test' && parts[3] === 'clock') {
    return only(method, 'test-clock', params, { op: 'test-clock' });
  }
  if (parts[2] !== 'kv' || parts.length < 4 || parts.length > 5) {
    throw new BadRequestError(`no such route: ${path}`, 404);
  }
  if (parts.length === 5 && parts[4] !== 'cas') {
    throw new BadRequestError(
      `no such route: ${path} (a key is one path segment: write / in a key as %2F)`,
      404,
    );
  }
  const key = parseKey(parts[3] as string, limits);
  if (parts.length === 5) return only(method, 'cas', params, { op: 'cas', key });
  if (method === 'GET' || method === 'HEAD') {
    const stale = params.get('stale');
    params.delete('stale');
    noOthers(params);
    if (stale !== undefined && stale !== 'true' && stale !== 'false') {
      throw new BadRequestError(`stale must be true or false, not ${JSON.stringify(stale)}`);
    }
    return { op: 'get', key, stale: stale === 'true' };
  }
  if (method === 'PUT') return only(method, 'kv', params, { op: 'put', key });
  if (method === 'DELETE') return only(method, 'kv', params, { op: 'delete', key });
  throw methodNotAllowed('kv', method);
}

/** `/v1/members`, `/v1/members/:id`, `/v1/members/:id/promote`. */
function parseMemberRoute(
  method: string,
  parts: readonly string[],
  params: Map<string, string>,
  path: string,
): Route {
  if (parts.length === 3) {
    if (method === 'POST') return only(method, 'members', params, { op: 'add-member' });
    return only(method, 'members', params, { op: 'members' });
  }
  if (parts.length < 4 || parts.length > 5 || (parts.length === 5 && parts[4] !== 'promote')) {
    throw new BadRequestError(`no such route: ${path}`, 404);
  }
  const id = parseMemberId(parts[3] as string);
  if (parts.length === 5) return only(method, 'promote', params, { op: 'promote-member', id });
  return only(method, 'member', params, { op: 'remove-member', id });
}

/**
 * `/v1/cluster`, `/v1/cluster/events`, `/v1/cluster/self?events=&messages=&activity=`,
 * `/v1/cluster/self/cut`, `/v1/cluster/nodes/:id/:action`.
 */
function parseClusterRoute(
  method: string,
  parts: readonly string[],
  params: Map<string, string>,
  path: string,
): Route {
  if (parts.length === 3) return only(method, 'cluster', params, { op: 'cluster' });
  if (parts.length === 4 && parts[3] === 'events') {
    return only(method, 'cluster', params, { op: 'cluster-events' });
  }
  if (parts.length === 4 && parts[3] === 'self') {
    const number = (name: string) => {
      const raw = params.get(name);
      params.delete(name);
      if (raw === undefined) return 0;
      if (!/^[0-9]{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
        throw new BadRequestError(`${name} must be a non-negative integer`);
      }
      return Number(raw);
    };
    const query = {
      events: number('events'),
      messages: number('messages'),
      activity: number('activity'),
    };
    return only(method, 'cluster', params, { op: 'cluster-self', query });
  }
  if (parts.length === 5 && parts[3] === 'self' && parts[4] === 'cut') {
    return only(method, 'control', params, { op: 'cluster-cut' });
  }
  if (parts.length === 6 && parts[3] === 'nodes') {
    const id = parseMemberId(parts[4] as string);
    const action = parts[5] as LocalAction;
    if (!localActions.includes(action)) {
      throw new BadRequestError(
        `no such action ${JSON.stringify(action)}: one of ${localActions.join(', ')}`,
        404,
      );
    }
    return only(method, 'control', params, { op: 'cluster-control', id, action });
  }
  throw new BadRequestError(`no such route: ${path}`, 404);
}

/** Longest member id, in UTF-8 bytes (the wire carries ids of up to 255). */
const MAX_MEMBER_ID_BYTES = 255;

function parseMemberId(raw: string): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new BadRequestError('the member id is not valid percent-encoded UTF-8');
  }
  checkMemberId(id);
  return id;
}

function checkMemberId(id: string): void {
  if (id === '') throw new BadRequestError('the member id is empty');
  if (Buffer.byteLength(id, 'utf8') > MAX_MEMBER_ID_BYTES) {
    throw new BadRequestError(`a member id is at most ${MAX_MEMBER_ID_BYTES} bytes`);
  }
}

const memberId = z
  .string()
  .min(1, 'must not be empty')
  .refine((id) => Buffer.byteLength(id, 'utf8') <= MAX_MEMBER_ID_BYTES, 'at most 255 bytes');

/** The body of `POST /v1/members`. */
export const addMemberBody = z.strictObject({
  id: memberId,
  address: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):[0-9]{1,5}$/, 'host:port'),
  learner: z.boolean().optional(),
});

/** The body of `POST /v1/leader`. */
export const transferBody = z.strictObject({ to: memberId });
/** A change of a test clock (`SkewedClock.change` checks the ranges). */
export const clockBody = z.strictObject({
  rate: z.number().optional(),
  jumpMs: z.number().optional(),
  wallJumpMs: z.number().optional(),
});

function only<R extends Route>(
  method: string,
  kind: string,
  params: Map<string, string>,
  route: R,
): R {
  if (!(methodsOf[kind] ?? []).includes(method)) throw methodNotAllowed(kind, method);
  noOthers(params);
  return route;
}

function noOthers(params: Map<string, string>): void {
  const [name] = params.keys();
  if (name !== undefined) throw new BadRequestError(`unknown parameter ${JSON.stringify(name)}`);
}

function parseQuery(query: string): Map<string, string> {
  const params = new Map<string, string>();
  if (query === '') return params;
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const name = decodeComponent(eq < 0 ? pair : pair.slice(0, eq), 'parameter name');
    const value = eq < 0 ? '' : decodeComponent(pair.slice(eq + 1), 'parameter value');
    if (params.has(name))
      throw new BadRequestError(`parameter ${JSON.stringify(name)} given twice`);
    params.set(name, value);
  }
  return params;
}

function decodeComponent(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    throw new BadRequestError(`${what} is not valid percent-encoded UTF-8`);
  }
}

function parseKey(raw: string, limits: KvLimits): string {
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw new BadRequestError('the key is not valid percent-encoded UTF-8');
  }
  if (key === '') throw new BadRequestError('the key is empty');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > limits.maxKeyBytes) {
    throw new BadRequestError(`the key is ${bytes} bytes; the limit is ${limits.maxKeyBytes}`);
  }
  return key;
}

const sessionHeader = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'a positive integer')
  .transform(Number);

/**
 * The session of a write, from `raftkit-client`, `raftkit-seq` and `raftkit-ack`: all three
 * or none (a write without a session is applied as often as it is sent).
 */
export function parseSession(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): SessionRef | undefined {
  const names = ['raftkit-client', 'raftkit-seq', 'raftkit-ack'] as const;
  const given = names.filter((n) => headers[n] !== undefined);
  if (given.length === 0) return undefined;
  if (given.length !== 3) {
    throw new BadRequestError(`session headers come together: ${names.join(', ')}`);
  }
  const [client, seq, ack] = names.map((n) => {
    const parsed = sessionHeader.safeParse(headers[n]);
    if (!parsed.success || !Number.isSafeInteger(parsed.data)) {
      throw new BadRequestError(`${n} must be one positive integer`);
    }
    return parsed.data;
  }) as [number, number, number];
  if (ack > seq) throw new BadRequestError('raftkit-ack cannot be above raftkit-seq');
  return { client, seq, ack };
}

export const putBody = z.strictObject({ value: z.string() });
export const casBody = z.strictObject({
  expected: z.string().nullable(),
  value: z.string().nullable(),
});

/** `text` parsed as JSON and checked against `schema`, values within the size limit. */
export function parseBody<T extends z.ZodType>(
  text: string,
  schema: T,
  limits: KvLimits,
): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BadRequestError('the body is not JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.path.length === 0 ? i.message : `${i.path.join('.')}: ${i.message}`,
    );
    throw new BadRequestError(`invalid body: ${problems.join('; ')}`);
  }
  for (const [field, v] of Object.entries(parsed.data as Record<string, unknown>)) {
    if (typeof v !== 'string') continue;
    const bytes = Buffer.byteLength(v, 'utf8');
    if (bytes > limits.maxValueBytes) {
      throw new BadRequestError(
        `${field} is ${bytes} bytes; the limit is ${limits.maxValueBytes}`,
        413,
      );
    }
  }
  return parsed.data;
}
