// The storage part's public surface: the storage node role and its operator's commands, and a
// twin's side of a node (StorageNodeBackend, one of the vault's ShardBackends).
export { StorageNode, type StorageNodeOptions } from './node.js'
export { StorageNodeBackend, type StorageNodeTarget } from './client.js'
export { STORAGE_PROTOCOL, ROOT_CONTEXT } from './service.js'
export { isInvite, parseInvite, MAX_INVITE_CHARS, type Invite } from './invite.js'
export { createInvite, allowTwin, denyTwin, listClients, type ClientView, type InviteResult } from './operator.js'
export { parseSize, parseDuration, formatSize } from './units.js'
export { StorageNodeError, STORAGE_NODE_ERRORS, type StorageNodeErrorCode } from './errors.js'
