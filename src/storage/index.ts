/**
 * @module
 * Durable storage: the write-ahead log, the hard state, the data directory, and the file
 * systems they run on (the real disk, and a memory disk that models crashes).
 */
export { IDENTITY_FILE, LAYOUT, LOG_DIR, STATE_MACHINE_DIR } from './data-dir.js';
export {
  CorruptionError,
  NotADataDirError,
  StorageFailedError,
  StorageLockedError,
} from './errors.js';
export {
  DEFAULT_CACHE_BYTES,
  DEFAULT_MAX_SEGMENT_BYTES,
  type DurableStorage,
  FileStorage,
  type FileStorageOptions,
  type FlushReport,
  type StorageLogger,
  type StorageUpdate,
} from './file-storage.js';
export { type FileHandle, type FileSystem, joinPath } from './file-system.js';
export { HARD_STATE_FILE } from './hard-state-file.js';
export {
  describeData,
  type Inspection,
  type InspectOptions,
  inspectDataDir,
  inspectionReport,
  openInspection,
} from './inspect.js';
export {
  type DiskOperation,
  MemoryFileSystem,
  type MemoryFileSystemOptions,
} from './memory-file-system.js';
export { NodeFileSystem } from './node-file-system.js';
export type { TornTail } from './recover.js';
export {
  type SnapshotFile,
  SnapshotReader,
  SnapshotWriter,
  snapshotFileBytes,
  snapshotFileName,
} from './snapshot-file.js';
