/**
 * @module
 * The live dashboard: `GET /ui` on every node, drawn from `GET /v1/cluster` and the event
 * stream `GET /v1/cluster/events` (README, "Dashboard"); the browser code is in `browser/`,
 * bundled into `dist/ui/static/` by `npm run build`.
 */
export { ClusterWatcher, type Cursor, POLL_MS } from './cluster-watcher.js';
export { Dashboard, type DashboardOptions } from './dashboard.js';
export {
  SUPERVISOR_HEADER,
  SUPERVISOR_SECRET_ENV,
  SUPERVISOR_URL_ENV,
  SupervisorClient,
  type SupervisorLink,
  secretMatches,
  supervisorFromEnv,
} from './local-controls.js';
export { PeerClient, type PeerTls } from './peer-client.js';
export { type ClusterEvent, NodeRecorder, type SampledMessage } from './recorder.js';
export type {
  ChartPoint,
  ClusterView,
  Controls,
  FollowerProgress,
  LogStrip,
  MemberView,
  NodeState,
  ProcessState,
  SelfView,
} from './view-types.js';
