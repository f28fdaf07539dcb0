/**
 * @module
 * `raftkit verify`: a Jepsen-style test of a real cluster (real processes, real faults, real
 * network partitions), checked for linearizability and durability.
 */
export { VerifyCluster } from './cluster.js';
export { checkDurable, type DurabilityReport } from './durability.js';
export { type FaultWindow, Nemesis, type NemesisKind, nemesisKinds } from './nemesis.js';
export { NamespaceNetwork, namespacesUnavailable, removeOrphans } from './netns.js';
export { NodeProcess, type NodeProcessOptions, raftkitBin, statusOf } from './node-process.js';
export { runVerify, VerifyAbortedError, type VerifyOptions, type VerifyResult } from './verify.js';
export { KvLoad, type Outcome, type Recorded, seeded, sleep } from './workload.js';
