/**
 * @module
 * X.509 certificates for the peers' TLS and the HTTPS API, made with `node:crypto` alone:
 * Node can make and use keys but has no API to issue a certificate, so this writes the DER
 * (RFC 5280) itself. ECDSA P-256 keys, SHA-256 signatures; a CA (basicConstraints CA, key
 * usage keyCertSign) and leaves for servers and clients, with their names (DNS or IP) in
 * subjectAltName, which is what TLS checks against the address a peer dials.
 *
 * For `raftkit cluster --tls` (a throwaway CA per run) and `raftkit certs` (files for a real
 * deployment). Checked in tests by Node's own `X509Certificate` and by real handshakes.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { isIP } from 'node:net';

/** A certificate and its private key, both PEM. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface CertificateRequest {
  readonly commonName: string;
  /** Host names and IP addresses the certificate is good for (subjectAltName). */
  readonly names?: readonly string[];
  /** What the key may do in TLS: be a server, a client, or both (a peer is both). */
  readonly usage: 'server' | 'client' | 'both';
  /** Days of validity from now. Default 365. */
  readonly days?: number;
}

// --- DER, the little of it a certificate needs ---------------------------------------------

function tlv(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  const length =
    n < 0x80
      ? [n]
      : n < 0x100
        ? [0x81, n]
        : n < 0x10000
          ? [0x82, n >> 8, n & 0xff]
          : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), content]);
}

const seq = (...parts: Uint8Array[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Uint8Array[]) => tlv(0x31, Buffer.concat(parts));
const octets = (b: Uint8Array) => tlv(0x04, b);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
/** `[n]` EXPLICIT: the whole value inside. */
const explicit = (n: number, inner: Uint8Array) => tlv(0xa0 + n, inner);
/** A BIT STRING of whole bytes (`unused` bits of the last are padding). */
const bits = (b: Uint8Array, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));

/** A non-negative INTEGER from its big-endian bytes (minimal, a 0 in front if the top bit is set). */
function integer(bytes: Uint8Array): Buffer {
  let b = Buffer.from(bytes);
  while (b.length > 1 && b[0] === 0 && ((b[1] as number) & 0x80) === 0) b = b.subarray(1);
  if (((b[0] as number) & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * (arcs[0] as number) + (arcs[1] as number)];
  for (const arc of arcs.slice(2)) {
    const base128 = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) {
      base128.unshift(0x80 | (v & 0x7f));
    }
    out.push(...base128);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280, 4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(`${iso.slice(2)}Z`));
  return tlv(0x18, Buffer.from(`${iso}Z`));
}

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyId: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyId: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

function name(commonName: string): Buffer {
  return seq(
    set(seq(oid(OID.organization), utf8('raftkit'))),
    set(seq(oid(OID.commonName), utf8(commonName))),
  );
}

function extension(id: string, critical: boolean, value: Uint8Array): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

/** subjectAltName's GeneralNames: dNSName [2] or iPAddress [7], both IMPLICIT. */
function altNames(names: readonly string[]): Buffer {
  return seq(
    ...names.map((n) => {
      const family = isIP(n);
      if (family === 0) return tlv(0x82, Buffer.from(n, 'ascii'));
      return tlv(0x87, ipBytes(n, family));
    }),
  );
}

function ipBytes(ip: string, family: number): Buffer {
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand `::`, then eight 16-bit groups.
  const [head = '', tail = ''] = ip.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return out;
}

/** SHA-1 of the public key's bits (RFC 5280 4.2.1.2, method 1): the key identifier. */
function keyId(spki: Buffer): Buffer {
  // The SPKI is SEQUENCE { algorithm, BIT STRING }: the key is the last element's content.
  const key = lastElementContent(spki);
  return createHash('sha1').update(key.subarray(1)).digest();
}

/** The content of the last element of a DER SEQUENCE (enough to read an SPKI or a cert). */
function lastElementContent(der: Buffer): Buffer {
  const elements = children(der);
  const last = elements.at(-1);
  if (last === undefined) throw new Error('an empty DER sequence');
  return last.content;
}

interface Element {
  readonly tag: number;
  /** The whole element, tag and length included. */
  readonly whole: Buffer;
  readonly content: Buffer;
}

/** The elements inside a DER SEQUENCE (one level). */
function children(der: Buffer): Element[] {
  const outer = element(der, 0);
  const out: Element[] = [];
  for (let at = 0; at < outer.content.length; ) {
    const e = element(outer.content, at);
    out.push(e);
    at += e.whole.length;
  }
  return out;
}

function element(der: Buffer, at: number): Element {
  const tag = der[at] as number;
  let length = der[at + 1] as number;
  let head = 2;
  if (length >= 0x80) {
    const n = length & 0x7f;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (der[at + 2 + i] as number);
    head += n;
  }
  if (at + head + length > der.length) throw new Error('a DER element runs past its end');
  return {
    tag,
    whole: der.subarray(at, at + head + length),
    content: der.subarray(at + head, at + head + length),
  };
}

// --- certificates ------------------------------------------------------------------------------

interface Issuer {
  readonly name: Buffer;
  readonly key: KeyObject;
  readonly keyId: Buffer;
}

function newKey(): { privateKey: KeyObject; spki: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
}

function issue(
  subject: Buffer,
  spki: Buffer,
  issuer: Issuer,
  days: number,
  extensions: readonly Buffer[],
): string {
  if (!Number.isInteger(days) || days < 1 || days > 36_500) {
    throw new RangeError('days must be an integer from 1 to 36500');
  }
  const now = Date.now();
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm,
    issuer.name,
    // An hour back: a peer whose clock is a little behind still takes it.
    seq(time(new Date(now - 3_600_000)), time(new Date(now + days * 86_400_000))),
    subject,
    spki,
    explicit(3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, issuer.key);
  const der = seq(tbs, algorithm, bits(signature));
  const base64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${base64.trimEnd()}\n-----END CERTIFICATE-----\n`;
}

const pem = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }) as string;

/** A new certificate authority: a self-signed CA certificate and its key. */
export function newCertificateAuthority(
  options: { commonName?: string; days?: number } = {},
): KeyPair {
  const { privateKey, spki } = newKey();
  const subject = name(options.commonName ?? 'raftkit CA');
  const id = keyId(spki);
  const cert = issue(
    subject,
    spki,
    { name: subject, key: privateKey, keyId: id },
    options.days ?? 3650,
    [
      extension(OID.basicConstraints, true, seq(bool(true))),
      // keyCertSign (bit 5) and cRLSign (bit 6): 0b0000011, one bit unused.
      extension(OID.keyUsage, true, bits(Buffer.from([0x06]), 1)),
      extension(OID.subjectKeyId, false, octets(id)),
    ],
  );
  return { cert, key: pem(privateKey) };
}

/** Throws a RangeError for a name that is neither a host name nor an IP address. */
export function checkCertificateNames(names: readonly string[]): void {
  for (const n of names) {
    if (isIP(n) === 0 && !/^[A-Za-z0-9*]([A-Za-z0-9-.]*[A-Za-z0-9])?$/.test(n)) {
      throw new RangeError(`${JSON.stringify(n)} is neither a host name nor an IP address`);
    }
  }
}

/** A certificate for `request`, signed by `ca` (as `newCertificateAuthority` makes, or read back). */
export function newCertificate(ca: KeyPair, request: CertificateRequest): KeyPair {
  const caCert = new X509Certificate(ca.cert);
  if (!caCert.ca) throw new Error('the CA certificate is not one of a certificate authority');
  const caKey = createPrivateKey(ca.key);
  if (!caCert.checkPrivateKey(caKey)) throw new Error("the CA key is not the CA certificate's");
  const caDer = caCert.raw;
  // The issuer's name as the CA certificate holds it, byte for byte: its TBS's subject.
  const tbs = children(caDer)[0] as Element;
  const subjectOfCa = (children(tbs.whole)[5] as Element).whole;
  const caSpki = createPublicKey(ca.cert).export({ type: 'spki', format: 'der' });
  const issuer: Issuer = { name: subjectOfCa, key: caKey, keyId: keyId(caSpki) };
  const names = request.names ?? [];
  checkCertificateNames(names);
  const { privateKey, spki } = newKey();
  const usages = {
    server: [OID.serverAuth],
    client: [OID.clientAuth],
    both: [OID.serverAuth, OID.clientAuth],
  }[request.usage];
  const cert = issue(name(request.commonName), spki, issuer, request.days ?? 365, [
    extension(OID.basicConstraints, true, seq()),
    // digitalSignature (bit 0): 0b1, seven bits unused.
    extension(OID.keyUsage, true, bits(Buffer.from([0x80]), 7)),
    extension(OID.extKeyUsage, false, seq(...usages.map(oid))),
    ...(names.length === 0 ? [] : [extension(OID.subjectAltName, false, altNames(names))]),
    extension(OID.subjectKeyId, false, octets(keyId(spki))),
    extension(OID.authorityKeyId, false, seq(tlv(0x80, issuer.keyId))),
  ]);
  return { cert, key: pem(privateKey) };
}
