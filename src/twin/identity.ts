import { readFileSync, renameSync } from 'node:fs'
import { openDb } from '../db/index.js'
import {
  createDocument, createIdentity, formatKelFile, formatKeyFile, generatePhrase, keyFileIsEncrypted, MAX_NAME_LENGTH,
  parseKelFile, parseKeyFile, restoreIdentity, rotateIdentity, signContent, verifyDocument, IdentityStore, KeyFileError,
  type ContentSignature, type GenerationSecrets, type KelExport, type KelState, type NewIdentity, type SignedDocument, type SignedKeyEvent
} from '../identity/index.js'
import { syncDir, writeFileAtomic } from '../fs/index.js'
import { existingHome, prepareNewHome, type HomePaths } from './home.js'
import { LocalTwinError } from './errors.js'

/** A twin's identity as its home folder holds it: verified on every open. */
export interface TwinIdentity {
  paths: HomePaths
  state: KelState
  events: SignedKeyEvent[]
  document: SignedDocument
  name: string
}

/** Checks a display name: at most 200 characters, no control characters. */
export function validateName (name: string): string {
  const trimmed = name.trim()
  if (trimmed.length > MAX_NAME_LENGTH) throw new LocalTwinError('NAME_INVALID', `a name has at most ${MAX_NAME_LENGTH} characters`)
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw new LocalTwinError('NAME_INVALID', 'a name cannot contain control characters')
  return trimmed
}

/**
 * Creates a new twin in an empty home: a fresh phrase, the inception event, the first twin
 * document and the key file. twin.db is written under a temporary name and renamed last, so an
 * interrupted init leaves no half-made twin. Returns the phrase, which is never stored.
 */
export function initTwin (home: string, options: { name?: string, passphrase?: string, phrase?: string } = {}): { identity: TwinIdentity, phrase: string } {
  const name = validateName(options.name ?? '')
  const paths = prepareNewHome(home)
  const phrase = options.phrase ?? generatePhrase()
  const made = createIdentity(phrase)
  const identity = writeNewTwin(paths, made, { name }, options.passphrase)
  return { identity, phrase }
}

/**
 * Rebuilds a twin from its phrase in an empty home. With `kelText` (an exported key event
 * log) it comes back at its latest key generation, and with the name of the exported document.
 */
export function restoreTwin (home: string, phrase: string, options: { kelText?: string, kel?: KelExport, name?: string, passphrase?: string } = {}): { identity: TwinIdentity, fromLog: boolean } {
  const exported = options.kelText !== undefined ? parseKelFile(options.kelText) : options.kel
  const made = restoreIdentity(phrase, exported?.events)
  const name = validateName(options.name ?? exported?.document?.d.name ?? '')
  const paths = prepareNewHome(home)
  // Keep what the last document said (relays, storage nodes): the restored twin republishes it.
  const identity = writeNewTwin(paths, made, { ...(exported?.document?.d ?? {}), name }, options.passphrase, exported?.document?.d.seq)
  return { identity, fromLog: exported !== undefined }
}

function writeNewTwin (paths: HomePaths, made: NewIdentity, fields: { name: string, [extra: string]: unknown }, passphrase?: string, previousDocSeq?: number): TwinIdentity {
  const name = fields.name
  const document = createDocument(made.state, made.current.signing, fields, previousDocSeq)
  writeFileAtomic(paths.keys, formatKeyFile(made.state.id, made.current, passphrase))
  const tmp = paths.db + '.new'
  const db = openDb(tmp, { create: true })
  try {
    new IdentityStore(db).save(made.events, document)
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
  renameSync(tmp, paths.db)
  syncDir(paths.home)
  return { paths, state: made.state, events: made.events, document, name }
}

/** Opens and verifies the twin in `home`: its log, its document. Reads no secret. */
export function openIdentity (home: string): TwinIdentity {
  const paths = existingHome(home)
  const db = openDb(paths.db)
  try {
    const { events, state, document } = new IdentityStore(db).load()
    if (document === undefined) throw new LocalTwinError('DOCUMENT_MISSING', 'the twin\'s document is missing')
    return { paths, state, events, document, name: document.d.name }
  } finally {
    db.close()
  }
}

/** Reads the current secret keys, checked against the log; needs TWIN_PASSPHRASE if set at init. */
export function unlockKeys (identity: TwinIdentity, passphrase?: string): GenerationSecrets {
  return parseKeyFile(readKeyFile(identity.paths), identity.state, passphrase)
}

function readKeyFile (paths: HomePaths): string {
  try {
    return readFileSync(paths.keys, 'utf8')
  } catch {
    throw new LocalTwinError('KEYFILE_MISSING', `the twin's key file ${paths.keys} is missing`)
  }
}

/** Signs a content digest with the twin's current key. */
export function signWithTwin (identity: TwinIdentity, digest: Uint8Array, passphrase?: string): ContentSignature {
  const keys = unlockKeys(identity, passphrase)
  try {
    return signContent(digest, keys.signing, identity.events, identity.state)
  } finally {
    keys.signing.fill(0)
    keys.encryption.fill(0)
  }
}

/**
 * Rotates the twin's operational keys with its phrase: appends the rotation to the log, signs
 * a new document, then replaces the key file. If a previous rotation stopped after the log was
 * written, this finishes it instead of rotating again.
 */
export function rotateTwin (identity: TwinIdentity, phrase: string, passphrase?: string): TwinIdentity {
  const base = createIdentity(phrase)
  if (base.state.id !== identity.state.id) {
    throw new LocalTwinError('PHRASE_WRONG_TWIN', `this recovery phrase is for twin ${base.state.id}, not ${identity.state.id}; nothing was changed`)
  }
  const keyText = readKeyFileOrNull(identity.paths)
  const encrypted = keyText !== null && keyFileIsEncrypted(keyText)
  if (encrypted && (passphrase === undefined || passphrase === '')) {
    throw new KeyFileError('KEYFILE_LOCKED', 'this twin\'s keys are protected by a passphrase: set TWIN_PASSPHRASE to rotate them; nothing was changed')
  }
  // An interrupted rotation: the log is ahead of the key file. Rewrite the key file only.
  if (keyText !== null && keyGeneration(keyText) === identity.state.sequence - 1) {
    const current = restoreIdentity(phrase, identity.events).current
    writeFileAtomic(identity.paths.keys, formatKeyFile(identity.state.id, current, encrypted ? passphrase : undefined))
    return identity
  }
  if (keyText !== null && encrypted) parseKeyFile(keyText, identity.state, passphrase) // the passphrase must be right before we seal new keys with it
  const rotated = rotateIdentity(phrase, identity.events)
  const document = createDocument(rotated.state, rotated.current.signing, { ...identity.document.d, name: identity.name }, identity.document.d.seq)
  verifyDocument(document, rotated.state)
  const db = openDb(identity.paths.db)
  try {
    new IdentityStore(db).save(rotated.events, document)
  } finally {
    db.close()
  }
  writeFileAtomic(identity.paths.keys, formatKeyFile(rotated.state.id, rotated.current, encrypted ? passphrase : undefined))
  return { ...identity, state: rotated.state, events: rotated.events, document }
}

function readKeyFileOrNull (paths: HomePaths): string | null {
  try {
    return readFileSync(paths.keys, 'utf8')
  } catch {
    return null
  }
}

function keyGeneration (text: string): number | undefined {
  try {
    const g = (JSON.parse(text) as { generation?: unknown }).generation
    return typeof g === 'number' ? g : undefined
  } catch {
    return undefined
  }
}

/** The twin's key event log and current document as an export file's text. */
export function exportKel (identity: TwinIdentity): string {
  return formatKelFile(identity.state, { events: identity.events, document: identity.document })
}
