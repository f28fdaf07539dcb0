/**
 * @module
 * Transports: the wire codec, and the networks that carry it (in memory, TCP, UDP).
 */

export { formatAddress, type HostPort, parseAddress } from './address.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export {
  type CertificateRequest,
  checkCertificateNames,
  type KeyPair,
  newCertificate,
  newCertificateAuthority,
} from './certificates.js';
export { FrameCipher, SEAL_OVERHEAD_BYTES } from './cipher.js';
export {
  clusterTag,
  type DecodeFailure,
  type DecodeReason,
  decodeMessage,
  encodeMessage,
  type Frame,
  formationTag,
  type Hello,
  isDecodeFailure,
  UNBOUND_FORMATION,
  WIRE_VERSION,
} from './codec.js';
export { CuttableTransport } from './cuttable.js';
export {
  FrameReader,
  FrameTooLargeError,
  LENGTH_PREFIX_BYTES,
  lengthPrefix,
} from './frame-reader.js';
export {
  MemoryNetwork,
  MemoryTransport,
  type MemoryTransportOptions,
} from './memory-transport.js';
export { TcpTransport, type TcpTransportOptions, type TlsOptions } from './tcp-transport.js';
export {
  type DropReason,
  deliverSafely,
  dropReasons,
  MESSAGE_OVERHEAD_BYTES,
  type MessageHandler,
  type Transport,
  type TransportLogger,
  type TransportStats,
} from './transport.js';
export { MAX_DATAGRAM_BYTES, UdpTransport, type UdpTransportOptions } from './udp-transport.js';
export {
  type ForwardProposal,
  type ForwardRefusal,
  MAX_ID_BYTES,
  MAX_TEXT_BYTES,
  type MemberReply,
  type MemberReplyCode,
  type MemberRequest,
  memberReplyCodes,
  type NodeRequest,
  type RefusalCode,
  type SnapshotAck,
  type SnapshotAckStatus,
  type SnapshotChunk,
  snapshotAckStatuses,
  type WireMessage,
} from './wire.js';
export {
  DEFAULT_CLUSTER_ID,
  WireCodec,
  type WireCodecOptions,
  type WireSecurity,
} from './wire-codec.js';
