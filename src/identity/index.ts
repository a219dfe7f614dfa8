export { PhraseError, KelError, DocumentError, SignatureError, KeyFileError, IDENTITY_ERRORS, type IdentityErrorCode } from './errors.js'
export { generatePhrase, normalizePhrase, phraseToSeed, PHRASE_WORDS } from './phrase.js'
export {
  deriveGeneration, derivePurposeKey, publicKeysOf, ed25519Sign, ed25519Verify, ed25519PublicKey, x25519PublicKey,
  x25519, signWithContext, verifyWithContext, ed25519DidKey, x25519DidKey, parseDidKey, ed25519PrivateKey, x25519PrivateKey,
  type GenerationSecrets, type PublicKeys
} from './keys.js'
export { twinIdFromDigest, parseTwinId, normalizeTwinId, twinDid, isCanonicalTwinId, signedTwinIdSchema } from './twin-id.js'
export {
  createInception, createRotation, verifyKel, longerKel, eventDigest, keysDigest, encodeKeyEvent, decodeKeyEvent, KEL_CONTEXT,
  type KelState, type SignedKeyEvent, type KeyEvent, type InceptionEvent, type RotationEvent
} from './kel.js'
export {
  createDocument, verifyDocument, encodeDocument, decodeDocument, DOCUMENT_CONTEXT, MAX_NAME_LENGTH,
  type TwinDocument, type SignedDocument
} from './document.js'
export {
  signContent, verifyContentSignature, formatSignature, parseSignature, CONTENT_CONTEXT, SIGNATURE_PREFIX,
  type ContentSignature, type SignatureCheck
} from './signature.js'
export { formatKelFile, parseKelFile, KEL_FILE_FORMAT, type KelExport } from './kel-file.js'
export { formatKeyFile, parseKeyFile, keyFileIsEncrypted, SCRYPT } from './keystore.js'
export { createIdentity, restoreIdentity, rotateIdentity, type NewIdentity } from './lifecycle.js'
export { IdentityStore } from './store.js'
