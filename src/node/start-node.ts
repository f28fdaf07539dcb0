/**
 * @module
 * The raftos-style way in: a node from its address, its peers' addresses and a data
 * directory, on the real disk and real sockets. `RaftNode` itself takes injected parts; this
 * builds the real ones.
 */
import { InvalidConfigError, type NodeId } from '../core/index.js';
import { FileStorage, type FlushReport } from '../storage/index.js';
import {
  TcpTransport,
  type TlsOptions,
  type Transport,
  UdpTransport,
  type WireSecurity,
} from '../transport/index.js';
import type { NodeLogger, RaftNodeOptions } from './options.js';
import { RaftNode } from './raft-node.js';
import type { StateMachine } from './state-machine.js';

export interface StartNodeOptions<S extends StateMachine>
  extends WireSecurity,
    Omit<RaftNodeOptions<S>, 'id' | 'members' | 'addresses' | 'storage' | 'transport'> {
  /** Where this node listens, `host:port`. */
  readonly address: string;
  /**
   * The other members: their addresses (ids are then the addresses), or id to address. The
   * configuration a new cluster starts with; the one in the log wins once there is one.
   * Ignored with `join` (may be empty).
   */
  readonly peers: readonly string[] | Readonly<Record<NodeId, string>>;
  /** This node's id. Default: its address, as in raftos. */
  readonly id?: NodeId;
  /** The node's data directory (created if absent). */
  readonly dataDir: string;
  /** `tcp` (default) or `udp`, as raftos used. */
  readonly transport?: 'tcp' | 'udp';
  /** TCP over TLS with mutual authentication. */
  readonly tls?: TlsOptions;
  readonly logger?: NodeLogger;
  /** Told of every group commit of the log (for fsync metrics). */
  readonly onFlush?: (flush: FlushReport) => void;
  /** Wraps the transport made from the options (the dashboard's cut control does). */
  readonly wrapTransport?: (transport: Transport) => Transport;
}

export async function startNode<S extends StateMachine>(
  options: StartNodeOptions<S>,
): Promise<RaftNode<S>> {
  const id = options.id ?? options.address;
  const peers: Record<NodeId, string> = Array.isArray(options.peers)
    ? Object.fromEntries((options.peers as readonly string[]).map((a) => [a, a]))
    : { ...(options.peers as Record<NodeId, string>) };
  delete peers[id];
  const kind = options.transport ?? 'tcp';
  if (kind !== 'tcp' && kind !== 'udp')
    throw new InvalidConfigError(`unknown transport ${String(kind)}`);
  if (kind === 'udp' && options.tls !== undefined) {
    throw new InvalidConfigError('TLS needs the tcp transport; protect UDP with a shared secret');
  }
  const optional = {
    ...(options.clusterId === undefined ? {} : { clusterId: options.clusterId }),
    ...(options.secret === undefined ? {} : { secret: options.secret }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  };
  const joining = options.join === true;
  // A node that joins knows nobody until the leader, which knows it, connects.
  const wire = { id, listen: options.address, peers, acceptUnknownPeers: joining, ...optional };
  const made: Transport =
    kind === 'udp'
      ? new UdpTransport(wire)
      : new TcpTransport({ ...wire, ...(options.tls === undefined ? {} : { tls: options.tls }) });
  const transport = options.wrapTransport?.(made) ?? made;
  const storage = await FileStorage.open(options.dataDir, {
    id,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.onFlush === undefined ? {} : { onFlush: options.onFlush }),
  });
  try {
    return await RaftNode.start({
      ...options,
      id,
      members: joining ? [] : [id, ...Object.keys(peers)],
      addresses: { ...peers, [id]: options.address },
      storage,
      transport,
    });
  } catch (e) {
    await storage.close().catch(() => {});
    await transport.close().catch(() => {});
    throw e;
  }
}
