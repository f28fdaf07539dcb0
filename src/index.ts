/**
 * @module
 * raftkit: a Raft consensus library for Node.js.
 */
export * from './core/index.js';
export * from './storage/index.js';
