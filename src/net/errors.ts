import { TwinError, type ErrorCodes } from '../errors.js'

/** The codes of the net part's errors, each with its HTTP status (docs/ERRORS.md). */
export const NET_ERRORS = {
  ADDRESS_INVALID: 400, // text that is not a multiaddr ending in /p2p/<peer id>
  TWIN_NOT_FOUND: 404, // no record of the twin in the DHT or at the relays
  RECORD_MISMATCH: 500, // records of two different twins compared (a bug)
  HOME_INVALID: 400, // a relay's or storage node's home that is not a folder, or cannot be made private
  KEYFILE_INVALID: 500 // a relay's or storage node's key file is damaged
} as const satisfies ErrorCodes
export type NetErrorCode = keyof typeof NET_ERRORS

/** A network failure, address or record the net part cannot use. */
export class NetError extends TwinError {
  declare readonly code: NetErrorCode
  constructor (code: NetErrorCode, message: string) {
    super(code, NET_ERRORS[code], message)
    this.name = 'NetError'
  }
}
