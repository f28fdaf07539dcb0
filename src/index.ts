/**
 * @module
 * raftkit: a Raft consensus library for Node.js.
 */

export * from './check/index.js';
export * from './core/index.js';
export * from './kv/index.js';
export * from './node/index.js';
export * from './replicated/index.js';
export * from './storage/index.js';
export * from './transport/index.js';
