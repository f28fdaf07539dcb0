/**
 * @module
 * The dashboard's requests to other members' APIs (and to a local supervisor): JSON over
 * HTTP or HTTPS, a short deadline, the viewer's token passed on, and — where the API wants
 * client certificates — this node's own. Connections are kept between polls.
 */
import http from 'node:http';
import https from 'node:https';

export interface PeerTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface PeerRequest {
  readonly method?: 'GET' | 'POST';
  readonly authorization?: string | undefined;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly timeoutMs: number;
}

export interface PeerAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** Answers larger than this are refused (a self view is a few tens of kilobytes). */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

export class PeerClient {
  readonly #http = new http.Agent({ keepAlive: true, maxSockets: 4 });
  readonly #https: https.Agent;

  constructor(tls: PeerTls = {}) {
    this.#https = new https.Agent({ keepAlive: true, maxSockets: 4, ...tls });
  }

  /** Rejects on a network failure, a timeout or an answer that is not JSON. */
  request(url: string, request: PeerRequest): Promise<PeerAnswer> {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
    if (request.authorization !== undefined) headers.authorization = request.authorization;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        target,
        {
          method: request.method ?? 'GET',
          headers,
          agent: secure ? this.#https : this.#http,
          signal: AbortSignal.timeout(request.timeoutMs),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`${url}: answer too large`));
            else chunks.push(c);
          });
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, body: text === '' ? null : JSON.parse(text) });
            } catch {
              reject(new Error(`${url}: the answer is not JSON`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}
