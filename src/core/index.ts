/**
 * @module
 * The Raft protocol as a pure, deterministic state machine.
 */
export { type ChangePlan, leaveJoint, type MemberChange, planChange } from './config-change.js';
export { checkMembershipSpec, decodeConfig, encodeConfig, membershipOf } from './config-entry.js';
export { describeEntries, describeEntry, describeMessage } from './describe.js';
export {
  AssertionError,
  InvalidConfigError,
  InvalidMessageError,
  MembershipChangeError,
  type MembershipRefusal,
  membershipRefusals,
  NotLeaderError,
  OverloadedError,
  ProposalDroppedError,
  type ProposalDropReason,
  proposalDropReasons,
  RaftError,
  type RaftErrorCode,
  TransferRejectedError,
} from './errors.js';
export type { LogView } from './log.js';
export { type LogStorage, MemoryStorage, type MemoryStorageInit } from './log-storage.js';
export {
  allMembers,
  describeMembership,
  isJoint,
  isMember,
  isVoter,
  type Membership,
  type MembershipSpec,
  membership,
  membershipSpec,
  sameMembers,
  unknownMembership,
} from './membership.js';
export type {
  AppendRequest,
  AppendResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  InstallSnapshot,
  Message,
  MessageType,
  ReadIndexRequest,
  ReadIndexResponse,
  TimeoutNow,
  VoteRequest,
  VoteResponse,
} from './messages.js';
export { messageTypes } from './messages.js';
export { defaultLimits, type RaftOptions } from './options.js';
export type { CampaignKind, ProposalPosition } from './raft.js';
export { type Random, seededRandom } from './random.js';
export { type ProgressStatus, RawNode, type Ready, type Status } from './raw-node.js';
export {
  beginOverlappedReady,
  beginReady,
  carryOutReady,
  finishOverlappedReady,
  finishReady,
  type ReadyHandler,
} from './ready-order.js';
export { checkSnapshotMeta, type SnapshotMembership, type SnapshotMeta } from './snapshot.js';
export {
  ENTRY_OVERHEAD_BYTES,
  type Entry,
  type EntryKind,
  emptyHardState,
  entryKindCodes,
  entryKindOf,
  entrySizeBytes,
  type HardState,
  hardStateEqual,
  type NodeId,
  type ReadState,
  type Role,
  type SoftState,
} from './types.js';
export { checkMessageShape, MAX_READ_CONTEXT_LENGTH } from './validate.js';
