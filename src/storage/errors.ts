import { TwinError } from '../errors.js'

/** Why a storage node (or its operator's command) refused; each code has one meaning. */
export type StorageNodeErrorCode =
  | 'OPTION_INVALID' // a size, duration or id given on the command line is not valid
  | 'NODE_NOT_FOUND' // no storage node in the home folder (never started there)
  | 'QUOTA_TOO_LARGE' // a quota larger than the disk of the shard folder
  | 'INVITE_INVALID' // a token that is not a storage-node invite, or whose signature fails
  | 'INVITE_EXPIRED' // an invite past its expiry
  | 'INVITE_USED' // an invite another twin redeemed first

/** An operator command or an invite that cannot be used; the message says what to do. */
export class StorageNodeError extends TwinError {
  constructor (readonly reason: StorageNodeErrorCode, message: string) {
    super(reason === 'OPTION_INVALID' ? 'OPTION_INVALID' : `STORAGE_${reason}`, message)
    this.name = 'StorageNodeError'
  }
}
