// The net part's public surface; other parts import only this. Importing it loads libp2p.
export {
  createTwinNode, createRelayNode, createServiceNode, createClientNode, stopNode, keepConnected, peerAddress,
  peerKeyFromSeed, peerKeyFromSigningSeed, DHT_PROTOCOL, type TwinLibp2p
} from './node.js'
export { NodeRole } from './role.js'
export { loadOrCreatePeerSeed } from './peer-key-file.js'
export { decodeRecord, encodeRecord, compareRecords, MAX_RECORD_BYTES, type TwinRecord, type NetFields } from './record.js'
export { Resolver, type RecordSource } from './resolver.js'
export { FrameStream, MAX_FRAME_BYTES, whileProgressing, type FrameStreamOptions, type Progress } from './frames.js'
export { RequestStream } from './request-stream.js'
export { linkOf, shareableAddresses, parsePublicRanges, type Link, type PublicRanges } from './links.js'
export { PUNCH_PROTOCOL, type PunchStatus, type Reachability } from './punch.js'
export { Batcher } from './batcher.js'
export { reportOnSignal, roleReport, type RoleReport } from './report.js'
export { NetError, NET_ERRORS, type NetErrorCode } from './errors.js'
