/**
 * @module
 * The key-value server: state machine, sessions, HTTP API, metrics, logs, and its client.
 */

export {
  type ActivitySecond,
  bucketBoundMs,
  type Histogram,
  mergeHistogram,
  quantileMs,
  RecentActivity,
} from './activity.js';
export { Advertiser, reachableUrl } from './advertiser.js';
export {
  Authenticator,
  AuthFileError,
  newToken,
  type Principal,
  parseAuthFile,
  type Role as TokenRole,
  roleAllows,
  roles,
  type TokenEntry,
} from './auth.js';
export {
  type CallOptions,
  type ClientTlsOptions,
  type GetResult,
  type Members,
  RaftkitClient,
  type RaftkitClientOptions,
} from './client.js';
export {
  decodeKvCommand,
  encodeKvCommand,
  type KvCommand,
  type KvResult,
  type SessionRef,
} from './commands.js';
export {
  AuthRefusedError,
  BadRequestError,
  ServerError,
  SessionExpiredError,
  UnavailableError,
} from './errors.js';
export {
  type ConnectionLimits,
  type DashboardAnswer,
  type DashboardRequest,
  type DashboardRoutes,
  defaultConnectionLimits,
  type HttpTlsOptions,
  KvHttpServer,
  type KvServerOptions,
} from './http-server.js';
export { type KvNode, type KvNodeOptions, startKvNode } from './kv-node.js';
export { type KvEntry, type KvSnapshot, KvStore } from './kv-store.js';
export {
  createLogger,
  type LogFormat,
  type LoggerOptions,
  type LogLevel,
  logFormats,
  logLevels,
} from './logger.js';
export { KvMetrics } from './metrics.js';
export {
  type DashboardRoute,
  defaultKvLimits,
  type KvLimits,
  type LocalAction,
  localActions,
  type SelfQuery,
} from './requests.js';
export { type SessionOptions, SessionTable } from './sessions.js';
