/**
 * @module
 * Structured logs (pino) to stderr: one JSON object a line for machines, or a coloured,
 * human-readable line for a terminal. stdout stays free for what commands print.
 */
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'json' | 'pretty';
export const logFormats: readonly LogFormat[] = ['json', 'pretty'];
export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface LoggerOptions {
  /** Default: `pretty` on a terminal, `json` otherwise. */
  readonly format?: LogFormat;
  /** Default `info`. */
  readonly level?: LogLevel;
  /** Fields on every line, such as the node's id. */
  readonly base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const settings = { level: options.level ?? 'info', base: options.base ?? {} };
  if (format === 'pretty') {
    return pino(
      settings,
      pretty({
        destination: 2,
        sync: true,
        colorize: process.stderr.isTTY === true,
        translateTime: 'HH:MM:ss.l',
        ignore: 'pid,hostname',
      }),
    );
  }
  return pino(settings, pino.destination({ fd: 2, sync: true }));
}
