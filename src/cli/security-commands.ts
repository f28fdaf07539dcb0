/**
 * @module
 * `raftkit certs` (a CA and certificates for a deployment's peers, HTTPS API and clients) and
 * `raftkit auth add` (a new bearer token: printed once, its hash added to an auth file).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { newToken, parseAuthFile, roles, type TokenEntry } from '../kv/index.js';
import {
  checkCertificateNames,
  type KeyPair,
  newCertificate,
  newCertificateAuthority,
} from '../transport/index.js';
import type { Output } from './main.js';
import { positiveInteger } from './parse.js';

interface CertsFlags {
  out: string;
  node: string[][];
  client: string[];
  caCert?: string;
  caKey?: string;
  days: number;
}

function nameList(value: string, previous: string[][] = []): string[][] {
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (names.length === 0) throw new Error('--node needs a name or address');
  return [...previous, names];
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Writes `text` to `path` (mode `mode`), refusing to replace a file. */
function writeNew(path: string, text: string, mode: number): void {
  if (existsSync(path)) throw new Error(`${path} exists already; not replaced`);
  writeFileSync(path, text, { mode, flag: 'wx' });
}

/** The files of the CA and of every node and client, written in `dir`. */
export function writeCertificates(
  dir: string,
  nodes: readonly (readonly string[])[],
  clients: readonly string[],
  options: { days?: number; ca?: KeyPair } = {},
): string[] {
  // Everything is checked before the first file is written: a mistake leaves nothing behind.
  const base = (name: string) => name.replace(/[^A-Za-z0-9.-]/g, '_');
  const files = [
    ...(options.ca === undefined ? ['ca.pem', 'ca-key.pem'] : []),
    ...[...nodes.map((n) => n[0] as string), ...clients].flatMap((n) => [
      `${base(n)}.pem`,
      `${base(n)}-key.pem`,
    ]),
  ];
  for (const names of nodes) checkCertificateNames(names);
  if (new Set(files).size !== files.length) throw new Error('two certificates would share a file');
  for (const f of files) {
    if (existsSync(join(dir, f))) throw new Error(`${join(dir, f)} exists already; not replaced`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  const write = (file: string, text: string, mode: number) => {
    writeNew(join(dir, file), text, mode);
    written.push(join(dir, file));
  };
  let ca = options.ca;
  if (ca === undefined) {
    ca = newCertificateAuthority();
    write('ca.pem', ca.cert, 0o644);
    write('ca-key.pem', ca.key, 0o600);
  }
  const days = options.days ?? 365;
  for (const names of nodes) {
    const first = names[0] as string;
    // A node's certificate serves its peers and its HTTPS API, and is shown to the peers it
    // dials (mutual TLS): both usages.
    const pair = newCertificate(ca, { commonName: first, names, usage: 'both', days });
    write(`${base(first)}.pem`, pair.cert, 0o644);
    write(`${base(first)}-key.pem`, pair.key, 0o600);
  }
  for (const client of clients) {
    const pair = newCertificate(ca, { commonName: client, usage: 'client', days });
    write(`${base(client)}.pem`, pair.cert, 0o644);
    write(`${base(client)}-key.pem`, pair.key, 0o600);
  }
  return written;
}

export function certsCommand(output: Output): Command {
  return new Command('certs')
    .description('write a CA and certificates for the nodes (peers and HTTPS) and clients')
    .requiredOption('--out <dir>', 'where to write them (existing files are never replaced)')
    .requiredOption(
      '--node <name,...>',
      "one node's host names and IP addresses (its first names the files); repeat per node",
      nameList,
    )
    .option('--client <name>', 'a client certificate for NAME (repeatable)', collect, [])
    .option('--ca-cert <file>', 'sign with this CA instead of a new one (with --ca-key)')
    .option('--ca-key <file>', "the CA's private key")
    .option('--days <n>', "the certificates' validity", positiveInteger, 365)
    .action((flags: CertsFlags) => {
      if ((flags.caCert === undefined) !== (flags.caKey === undefined)) {
        throw new Error('--ca-cert and --ca-key come together');
      }
      const ca =
        flags.caCert === undefined
          ? undefined
          : {
              cert: readFileSync(flags.caCert, 'utf8'),
              key: readFileSync(flags.caKey as string, 'utf8'),
            };
      const files = writeCertificates(flags.out, flags.node, flags.client, {
        days: flags.days,
        ...(ca === undefined ? {} : { ca }),
      });
      for (const f of files) output.out(`${f}\n`);
      output.err(
        'raftkit certs: keep the *-key.pem files secret (mode 0600); a node takes --tls-cert NODE.pem --tls-key NODE-key.pem --tls-ca ca.pem (peers) and --http-tls-cert/--http-tls-key/--http-tls-ca (API)\n',
      );
    });
}

interface AuthAddFlags {
  name: string;
  role: TokenEntry['role'];
}

export function authCommand(output: Output): Command {
  const auth = new Command('auth').description(
    'bearer tokens: raftkit auth add FILE --name --role',
  );
  auth.addCommand(
    new Command('add')
      .description(
        'draw a new token, print it (once: only its hash is kept) and add it to FILE (created if absent)',
      )
      .argument('<file>', 'the auth file that nodes read with --auth-file')
      .requiredOption('--name <name>', "the token's name (letters, digits, _ and -)")
      .addOption(
        new Option('--role <role>', 'what it may do').choices([...roles]).makeOptionMandatory(),
      )
      .action(async (file: string, flags: AuthAddFlags) => {
        const entries = existsSync(file) ? parseAuthFile(readFileSync(file, 'utf8'), file) : [];
        if (entries.some((e) => e.name === flags.name)) {
          throw new Error(`${file} has a token named ${flags.name} already`);
        }
        const { token, hash } = await newToken(flags.name);
        const document = { tokens: [...entries, { name: flags.name, role: flags.role, hash }] };
        // Replaced whole: a crash leaves the old file or the new one.
        writeFileSync(`${file}.tmp`, `${JSON.stringify(document, null, 2)}\n`, { mode: 0o600 });
        renameSync(`${file}.tmp`, file);
        output.out(`${token}\n`);
        output.err(
          `raftkit auth: token ${flags.name} (${flags.role}) added to ${file}; it is shown only now. Restart the nodes to take it.\n`,
        );
      }),
  );
  return auth;
}
