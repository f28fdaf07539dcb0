/**
 * @module
 * The flags of every command that talks to a running cluster's HTTP API: where it is
 * (`--endpoints`), how long to try (`--timeout-ms`), and who we are: the CA that signed the
 * nodes' certificates and our own (`--cacert`, `--cert`, `--key`, as etcdctl names them), and
 * a bearer token. The token comes from `--token-file` or `RAFTKIT_TOKEN`, never from a flag's
 * value: a command line is visible to every user of the machine (`ps`).
 */
import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { type ClientTlsOptions, RaftkitClient, type RaftkitClientOptions } from '../kv/client.js';
import { defaultEndpoints } from './cluster-command.js';
import { positiveInteger } from './parse.js';

/** The environment variable a token may come from (after `--token-file`). */
export const TOKEN_ENV = 'RAFTKIT_TOKEN';

export interface ClientFlags {
  endpoints: string[];
  timeoutMs: number;
  cacert?: string;
  cert?: string;
  key?: string;
  tokenFile?: string;
}

function endpointList(value: string): string[] {
  return value
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
}

/** Adds the security flags alone (`raftkit node --join` has its own endpoints). */
export function withClientSecurity(command: Command): Command {
  return command
    .option('--cacert <file>', "CA certificate (PEM) that signed the nodes' HTTPS certificates")
    .option('--cert <file>', 'client certificate (PEM), for nodes that ask for one')
    .option('--key <file>', "the client certificate's private key (PEM)")
    .option('--token-file <file>', `file holding the bearer token (else $${TOKEN_ENV})`);
}

export function withClient(command: Command, timeoutMs = 10_000): Command {
  return withClientSecurity(
    command
      .addOption(
        new Option('--endpoints <url,...>', 'nodes to talk to')
          .argParser(endpointList)
          .default(defaultEndpoints, defaultEndpoints.join(',')),
      )
      .option(
        '--timeout-ms <ms>',
        'give up after this long, retries included',
        positiveInteger,
        timeoutMs,
      ),
  );
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/** The token and TLS options of the security flags (files read here). */
export function clientSecurity(
  flags: Pick<ClientFlags, 'cacert' | 'cert' | 'key' | 'tokenFile'>,
  env: NodeJS.ProcessEnv = process.env,
): Pick<RaftkitClientOptions, 'token' | 'tls'> {
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new Error('--cert and --key come together');
  }
  const tls: ClientTlsOptions = {
    ...(flags.cacert === undefined ? {} : { ca: readText(flags.cacert, 'CA certificate') }),
    ...(flags.cert === undefined ? {} : { cert: readText(flags.cert, 'certificate') }),
    ...(flags.key === undefined ? {} : { key: readText(flags.key, 'key') }),
  };
  // An empty variable counts as unset (as shells and CI systems leave them); an empty file
  // is a mistake.
  const fromEnv = env[TOKEN_ENV]?.trim() === '' ? undefined : env[TOKEN_ENV]?.trim();
  const token =
    flags.tokenFile === undefined ? fromEnv : readText(flags.tokenFile, 'token file').trim();
  if (token === '') throw new Error(`the token file ${flags.tokenFile} is empty`);
  return {
    ...(token === undefined ? {} : { token }),
    ...(Object.keys(tls).length === 0 ? {} : { tls }),
  };
}

/** Runs `fn` with a client of the flags, closed after. */
export async function using<T>(
  flags: ClientFlags,
  fn: (client: RaftkitClient) => Promise<T>,
): Promise<T> {
  // One attempt may take the whole time: adding a voter waits for it to catch up.
  const client = new RaftkitClient({
    endpoints: flags.endpoints,
    timeoutMs: flags.timeoutMs,
    attemptTimeoutMs: Math.max(10_000, flags.timeoutMs),
    ...clientSecurity(flags),
  });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}
