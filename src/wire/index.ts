export { encodeCbor, decodeCbor } from './cbor.js'
export { byteStringHead, readByteStringHead } from './cbor-bytes.js'
export {
  equalBytes, concatBytes, utf8, toHex, fromHex, toBase64url, fromBase64url,
  toBase58btc, fromBase58btc, toBase32, fromBase32, assertBytes
} from './bytes.js'
export { sha256 } from './hash.js'
export { bytesSchema } from './schema.js'
