/**
 * @module
 * raftos-style replicated objects on a node whose state machine is an `ObjectStore`.
 */
export { InvalidOperationError, ObjectStore, type ObjectStoreOptions } from './object-store.js';
export { checkOperation, MAX_NAME_LENGTH, type ObjectKind, type Operation } from './operations.js';
export { Replicated } from './replicated.js';
export { ReplicatedList } from './replicated-list.js';
export { ReplicatedMap } from './replicated-map.js';
export { ReplicatedObject } from './replicated-object.js';
export { checkJsonValue, jsonCodec, type ValueCodec } from './value-codec.js';
