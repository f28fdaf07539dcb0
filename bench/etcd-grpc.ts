/**
 * A minimal gRPC client for etcd's v3 KV API over one HTTP/2 connection per endpoint, for the
 * side-by-side benchmark only: Put, linearizable Range and Maintenance.Status, each message
 * encoded by hand (three fields are all the benchmark needs). One HTTP/2 stream per call and
 * no batching, as etcd's own Go client does; many calls share a connection, as there.
 */
import http2 from 'node:http2';

/** A protobuf varint. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A length-delimited protobuf field. */
function bytesField(field: number, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...varint(data.length)]), data]);
}

/** A gRPC message frame: uncompressed flag, 4-byte length, message. */
function frame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** The top-level fields of a protobuf message: varints as bigint, the rest as bytes. */
export function decodeFields(message: Buffer): Map<number, bigint | Buffer> {
  const fields = new Map<number, bigint | Buffer>();
  let at = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = message[at++];
      if (b === undefined) throw new Error('truncated protobuf varint');
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
      shift += 7n;
    }
  };
  while (at < message.length) {
    const tag = Number(readVarint());
    const field = tag >> 3;
    const wire = tag & 7;
    if (wire === 0) fields.set(field, readVarint());
    else if (wire === 2) {
      const len = Number(readVarint());
      fields.set(field, message.subarray(at, at + len));
      at += len;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else throw new Error(`protobuf wire type ${wire} not handled`);
  }
  return fields;
}

export class EtcdGrpc {
  readonly #session: http2.ClientHttp2Session;

  constructor(readonly endpoint: string) {
    this.#session = http2.connect(endpoint);
    this.#session.on('error', () => {});
  }

  /** One unary call; resolves with the response message, rejects on a non-zero grpc-status. */
  call(path: string, message: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const stream = this.#session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      stream.on('response', (headers) => {
        // A call refused at once has its status in the headers (trailers-only response).
        const s = headers['grpc-status'];
        if (s !== undefined) status = String(s);
      });
      stream.on('trailers', (trailers) => {
        status = String(trailers['grpc-status']);
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', reject);
      stream.on('end', () => {
        if (status !== '0') {
          reject(new Error(`etcd ${path}: grpc-status ${status ?? 'missing'}`));
          return;
        }
        const body = Buffer.concat(chunks);
        resolve(body.subarray(5, 5 + body.readUInt32BE(1)));
      });
      stream.end(frame(message));
    });
  }

  put(key: string, value: Buffer): Promise<Buffer> {
    const message = Buffer.concat([bytesField(1, Buffer.from(key)), bytesField(2, value)]);
    return this.call('/etcdserverpb.KV/Put', message);
  }

  /** A linearizable get (RangeRequest.serializable left false). */
  get(key: string): Promise<Buffer> {
    return this.call('/etcdserverpb.KV/Range', bytesField(1, Buffer.from(key)));
  }

  /** Whether this endpoint's member is the leader (StatusResponse.leader = header.member_id). */
  async isLeader(): Promise<boolean> {
    const status = decodeFields(
      await this.call('/etcdserverpb.Maintenance/Status', Buffer.alloc(0)),
    );
    const header = status.get(1);
    if (!Buffer.isBuffer(header)) throw new Error('etcd status without a header');
    return decodeFields(header).get(2) === status.get(4);
  }

  close(): void {
    this.#session.close();
  }
}
