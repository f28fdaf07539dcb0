/**
 * @module
 * A worker process of `raftkit sim --jobs N` (forked by `sim-workers.ts`): it runs the seeds
 * its parent sends until the parent lets go of it.
 */
import { serveRuns } from './sim-workers.js';

serveRuns();
