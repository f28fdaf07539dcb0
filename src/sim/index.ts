/**
 * @module
 * The deterministic simulator: real `RaftNode`s on virtual time, a simulated network and
 * disks, a seeded fault schedule, invariants checked at every step, and client histories
 * checked for linearizability.
 */
export { type Reply, SimCluster, type SimNode } from './cluster.js';
export {
  defaultFaultProfile,
  describeFault,
  drawSchedule,
  type FaultAction,
  type FaultKind,
  type FaultProfile,
  faultKinds,
  noFaults,
  parseProfile,
  type ScheduledFault,
} from './faults.js';
export { InvariantViolation } from './invariants.js';
export { KvWorkload, type KvWorkloadOptions } from './kv-workload.js';
export { Observed, type StateWatch } from './observed.js';
export { SimRandom } from './random.js';
export { Actor, Scheduler } from './scheduler.js';
export { type ShrinkOptions, type Shrunk, shrink } from './shrink.js';
export {
  DEFAULT_DURATION_MS,
  DEFAULT_LIVENESS_MS,
  type FailureKind,
  type SimFailure,
  type SimResult,
  type SimulationOptions,
  simulate,
} from './simulation.js';
export { defaultTuning, describeTuning, drawTuning, type SimTuning } from './tuning.js';
export {
  nextTarget,
  type Workload,
  type WorkloadContext,
  type WorkloadVerdict,
} from './workload.js';
