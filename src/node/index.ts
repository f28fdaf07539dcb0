/**
 * @module
 * A running Raft node: the core driven by a clock, a storage and a transport.
 */

export type { FlushReport } from '../storage/index.js';
export { formatAddress, type HostPort, parseAddress } from '../transport/index.js';
export type { Clock, Timer } from './clock.js';
export {
  type Command,
  clusterIdentityOf,
  decodeCommand,
  describeCommand,
  LogClock,
} from './command.js';
export { AbortedError, InvalidCommandError, NodeStoppedError, TimeoutError } from './errors.js';
export type { ChangeOptions, ChangeResult, MemberInfo, MemberList } from './members.js';
export {
  DEFAULT_ELECTION_MS,
  DEFAULT_HEARTBEAT_MS,
  type NodeLogger,
  type RaftNodeOptions,
  type RaftTuning,
  raftosTiming,
  type Timing,
} from './options.js';
export {
  type MessageDirection,
  type MessageTap,
  type NodeEvents,
  type NodeStatus,
  RaftNode,
  type ReadOptions,
  type TermRuns,
  type WaitOptions,
} from './raft-node.js';
export { type ClockSkew, type ClockSkewChange, SkewedClock } from './skewed-clock.js';
export type { TransferOptions } from './snapshot-transfer.js';
export {
  DEFAULT_SNAPSHOT_BYTES,
  DEFAULT_SNAPSHOT_ENTRIES,
  DEFAULT_SNAPSHOT_KEEP_ENTRIES,
  NodeSnapshotError,
  type NodeSnapshotHeader,
  readNodeSnapshot,
  type SnapshotPolicy,
  withNodeHeader,
} from './snapshots.js';
export { type StartNodeOptions, startNode } from './start-node.js';
export type { StateMachine } from './state-machine.js';
export { systemClock, systemRandom } from './system-clock.js';
export { WRITE_STAGES, type WriteStage, type WriteStageObserver } from './write-stages.js';
