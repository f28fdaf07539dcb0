/**
 * @module
 * Bearer tokens for the HTTP API, each with a role (`read` < `write` < `admin`).
 *
 * A token reads `raftkit.<name>.<secret>`: the name says which entry of the auth file to check
 * it against, so one token costs one hash, not one per entry. The file holds no token, only
 * scrypt hashes (`scrypt$N$r$p$salt$key`, base64url), compared in constant time; a stolen
 * file gives no way in. A token that passed once is remembered (by its SHA-256) so that later
 * requests skip scrypt's deliberate cost; one that failed is not, and a name that is not in
 * the file costs a hash too, so that timing does not tell which names exist.
 *
 *     { "tokens": [ { "name": "ops", "role": "admin", "hash": "scrypt$16384$8$1$...$..." } ] }
 *
 * `raftkit auth add FILE --name N --role R` draws a token, prints it once and adds its hash.
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { RaftError } from '../core/errors.js';
import type { Role } from './requests.js';

export type { Role };

export const roles: readonly Role[] = ['read', 'write', 'admin'];

/** Whether `held` allows what `needed` does. */
export function roleAllows(held: Role, needed: Role): boolean {
  return roles.indexOf(held) >= roles.indexOf(needed);
}

/** The auth file is missing, not JSON, or holds an entry that is not one. */
export class AuthFileError extends RaftError {
  readonly file: string;

  constructor(file: string, detail: string) {
    super('RAFT_AUTH_FILE', `auth file ${file}: ${detail}`);
    this.file = file;
  }
}

export interface TokenEntry {
  readonly name: string;
  readonly role: Role;
  /** `scrypt$N$r$p$salt$key`. */
  readonly hash: string;
}

/** Who a request's token says it is. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const HASH = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{32,})$/;
const PREFIX = 'raftkit';

const authFileSchema = z.strictObject({
  tokens: z.array(
    z.strictObject({
      name: z.string().regex(NAME, 'letters, digits, _ and -, at most 64'),
      role: z.enum(['read', 'write', 'admin']),
      hash: z.string().regex(HASH, 'scrypt$N$r$p$salt$key (from raftkit auth add)'),
    }),
  ),
});

/** The entries of an auth file's text; `file` names it in errors. */
export function parseAuthFile(text: string, file: string): TokenEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AuthFileError(file, 'not JSON');
  }
  const parsed = authFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? '' : `${issue.path.join('.') || 'the document'}: `;
    throw new AuthFileError(file, `${where}${issue?.message ?? 'invalid'}`);
  }
  const seen = new Set<string>();
  for (const entry of parsed.data.tokens) {
    if (seen.has(entry.name))
      throw new AuthFileError(file, `the name ${entry.name} is there twice`);
    seen.add(entry.name);
    const [, n, r, p] = HASH.exec(entry.hash) as RegExpExecArray;
    checkCost(
      Number(n),
      Number(r),
      Number(p),
      (d) => new AuthFileError(file, `${entry.name}: ${d}`),
    );
  }
  return parsed.data.tokens;
}

function checkCost(n: number, r: number, p: number, fail: (detail: string) => Error): void {
  // Bounds keep a hand-edited file from making every request take seconds or gigabytes.
  if (n < 1024 || n > 2 ** 20 || (n & (n - 1)) !== 0)
    throw fail('N must be a power of 2 in [1024, 2^20]');
  if (r < 1 || r > 32 || p < 1 || p > 16) throw fail('r must be in [1, 32] and p in [1, 16]');
  if (128 * n * r > 256 * 1024 * 1024) throw fail('N × r needs more than 256 MiB');
}

/** scrypt's cost for new hashes: about 16 MiB and some tens of milliseconds a check. */
const COST = { N: 16_384, r: 8, p: 1 } as const;
const KEY_BYTES = 32;

function derive(secret: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_BYTES, { N: n, r, p, maxmem: 300 * 1024 * 1024 }, (e, key) =>
      e === null ? resolve(key) : reject(e),
    );
  });
}

/** A new token for `name` and the hash that goes in the auth file. */
export async function newToken(name: string): Promise<{ token: string; hash: string }> {
  if (!NAME.test(name))
    throw new RangeError(`a token name is letters, digits, _ and -, at most 64`);
  const secret = randomBytes(32).toString('base64url');
  const salt = randomBytes(16);
  const key = await derive(secret, salt, COST.N, COST.r, COST.p);
  const hash = `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  return { token: `${PREFIX}.${name}.${secret}`, hash };
}

/** How many passed tokens are remembered (the file has at most as many entries in use). */
const REMEMBERED = 1024;

export class Authenticator {
  readonly #entries: ReadonlyMap<string, TokenEntry>;
  /** SHA-256 of a token that passed → who it is. */
  readonly #passed = new Map<string, Principal>();
  /** Hashed against when the name is unknown, so that it costs what a known one does. */
  readonly #decoy: string;

  constructor(entries: readonly TokenEntry[]) {
    this.#entries = new Map(entries.map((e) => [e.name, e]));
    this.#decoy = `scrypt$${COST.N}$${COST.r}$${COST.p}$${'A'.repeat(22)}$${'A'.repeat(43)}`;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The principal of an `Authorization` header's value, or why there is none: `missing` (no
   * bearer token at all) or `invalid` (a token no entry matches).
   */
  async check(header: string | undefined): Promise<Principal | 'missing' | 'invalid'> {
    if (header === undefined) return 'missing';
    const m = /^Bearer +(\S+) *$/i.exec(header);
    if (m === null) return 'missing';
    const token = m[1] as string;
    const digest = createHash('sha256').update(token).digest('base64url');
    const known = this.#passed.get(digest);
    if (known !== undefined) return known;
    const parts = token.split('.');
    const name = parts.length === 3 && parts[0] === PREFIX ? (parts[1] as string) : '';
    const entry = this.#entries.get(name);
    const ok = await matches(parts[2] ?? '', entry?.hash ?? this.#decoy);
    if (!ok || entry === undefined) return 'invalid';
    const principal = { name: entry.name, role: entry.role };
    if (this.#passed.size >= REMEMBERED) this.#passed.clear();
    this.#passed.set(digest, principal);
    return principal;
  }
}

async function matches(secret: string, hash: string): Promise<boolean> {
  const [, n, r, p, salt, key] = HASH.exec(hash) as RegExpExecArray;
  const expected = Buffer.from(key as string, 'base64url');
  const got = await derive(
    secret,
    Buffer.from(salt as string, 'base64url'),
    Number(n),
    Number(r),
    Number(p),
  );
  return got.length === expected.length && timingSafeEqual(got, expected);
}
