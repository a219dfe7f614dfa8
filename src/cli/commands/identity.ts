import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { TwinError } from '../../errors.js'
import { CliError } from '../errors.js'
import {
  createIdentity, derivePurposeKey, ed25519DidKey, normalizeTwinId, parseKelFile, parseSignature, phraseToSeed, twinDid, verifyContentSignature, x25519DidKey,
  type KelExport, type SignedKeyEvent, type TwinDocument
} from '../../identity/index.js'
import {
  exportKel, initTwin, openIdentity, prepareNewHome, resolveHome, restoreTwin, rotateTwin, signWithTwin
} from '../../twin/index.js'
import { writeFileAtomic } from '../../fs/index.js'
import { openDb } from '../../db/index.js'
import { emit, warn } from '../output.js'
import { describeFsError, hashFile, readPhrase, readUserFile } from '../inputs.js'
import { formatSignature, SIGNATURE_PREFIX } from '../../identity/index.js'

export interface CommonOptions { home?: string, json?: boolean }

function passphrase (): string | undefined {
  const p = process.env.TWIN_PASSPHRASE
  return p === undefined || p === '' ? undefined : p
}

export function init (opts: CommonOptions & { name?: string }): void {
  const home = resolveHome(opts.home)
  const { identity, phrase } = initTwin(home, { name: opts.name, passphrase: passphrase() })
  emit(opts.json, { id: identity.state.id, phrase }, () => {
    const words = phrase.split(' ').map((w, i) => `${String(i + 1).padStart(2)}. ${w.padEnd(10)}`)
    const rows: string[] = []
    for (let i = 0; i < 6; i++) rows.push('  ' + [0, 6, 12, 18].map(c => words[i + c]).join(' '))
    return [
      `Created twin ${identity.state.id}${identity.name === '' ? '' : ` (${identity.name})`} in ${home}`,
      '',
      'Your recovery phrase, shown only this once:',
      '',
      ...rows,
      '',
      'Write these 24 words down and keep them somewhere safe and offline. They are the only way',
      'back to this twin if this machine is lost, and anyone who has them can act as you.',
      'Twin does not store them.' + (passphrase() !== undefined ? ' Your keys on this machine are encrypted with TWIN_PASSPHRASE.' : '')
    ].join('\n')
  })
}

export function id (opts: CommonOptions): void {
  const identity = openIdentity(resolveHome(opts.home))
  const value = {
    id: identity.state.id,
    did: twinDid(identity.state.id),
    name: identity.name,
    signingKey: ed25519DidKey(identity.state.keys.signing),
    encryptionKey: x25519DidKey(identity.state.keys.encryption),
    sequence: identity.state.sequence
  }
  emit(opts.json, value, () => [
    `id              ${value.id}`,
    `did             ${value.did}`,
    `name            ${value.name === '' ? '(none)' : value.name}`,
    `signing key     ${value.signingKey}`,
    `encryption key  ${value.encryptionKey}`,
    `key sequence    ${value.sequence}${value.sequence === 0 ? ' (never rotated)' : ''}`
  ].join('\n'))
}

export async function restore (opts: CommonOptions & { phraseFile: string, kel?: string, name?: string, bootstrap?: string[] }): Promise<void> {
  const phrase = readPhrase(opts.phraseFile)
  const kelText = opts.kel === undefined ? undefined : readUserFile(opts.kel, 'key event log file')
  const home = resolveHome(opts.home)
  let kel: KelExport | undefined
  if (kelText === undefined && opts.bootstrap !== undefined && opts.bootstrap.length > 0) {
    prepareNewHome(home) // fail before touching the network if the folder cannot take a twin
    const { fetchKelFromNetwork } = await import('./network.js')
    kel = await fetchKelFromNetwork(createIdentity(phrase).state.id, opts.bootstrap)
    if (kel === undefined) warn('the twin\'s key event log was not found through the given relays')
  }
  const { identity, fromLog } = restoreTwin(home, phrase, { kelText, kel, name: opts.name, passphrase: passphrase() })
  // The last published document names the twin's relays and storage nodes: the vault's index
  // comes back from those nodes when the twin starts.
  const doc = identity.document.d
  const relays = opts.bootstrap !== undefined && opts.bootstrap.length > 0 ? opts.bootstrap : stringList(doc.relays)
  const storage = await rememberNetwork(identity.paths.db, relays, { phrase, id: identity.state.id, doc })
  if (!fromLog) {
    warn('restored from the phrase alone, at key sequence 0. If this twin has rotated its keys since it was ' +
      'created, those keys were replaced: restore again with --kel FILE (from `twin kel export`) or --bootstrap RELAY to get the current ones.')
  }
  emit(opts.json, { id: identity.state.id, sequence: identity.state.sequence, name: identity.name, kel: fromLog, storage }, () =>
    `Restored twin ${identity.state.id}${identity.name === '' ? '' : ` (${identity.name})`} in ${home} at key sequence ${identity.state.sequence}` +
    (fromLog ? ', checked against its key event log' : '') +
    (storage > 0 ? `\nIts vault is on ${storage} storage node${storage === 1 ? '' : 's'}: \`twin start\` brings the files back.` : ''))
}

export function rotate (opts: CommonOptions & { phraseFile: string }): void {
  const phrase = readPhrase(opts.phraseFile)
  const before = openIdentity(resolveHome(opts.home))
  const after = rotateTwin(before, phrase, passphrase())
  const finished = after.state.sequence === before.state.sequence
  emit(opts.json, { id: after.state.id, sequence: after.state.sequence, signingKey: ed25519DidKey(after.state.keys.signing), encryptionKey: x25519DidKey(after.state.keys.encryption) }, () =>
    finished
      ? `Finished an interrupted rotation: twin ${after.state.id} is at key sequence ${after.state.sequence}`
      : [
          `Rotated the keys of twin ${after.state.id}: key sequence ${before.state.sequence} -> ${after.state.sequence}`,
          `signing key     ${ed25519DidKey(after.state.keys.signing)}`,
          `encryption key  ${x25519DidKey(after.state.keys.encryption)}`,
          'Keep an up-to-date copy of the key event log (`twin kel export FILE`): a restore needs it to come back with these keys.'
        ].join('\n'))
}

export function kelExport (file: string, opts: CommonOptions): void {
  const identity = openIdentity(resolveHome(opts.home))
  const text = exportKel(identity)
  if (file === '-') {
    process.stdout.write(text)
    return
  }
  try {
    writeFileAtomic(file, text)
  } catch (err) {
    throw new CliError('FILE_UNWRITABLE', `cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
  }
  emit(opts.json, { id: identity.state.id, sequence: identity.state.sequence, file }, () =>
    `Wrote the key event log of twin ${identity.state.id} (${identity.events.length} event${identity.events.length === 1 ? '' : 's'}, key sequence ${identity.state.sequence}) to ${file}`)
}

export async function sign (file: string, opts: CommonOptions & { output?: string }): Promise<void> {
  const identity = openIdentity(resolveHome(opts.home))
  const digest = await hashFile(file)
  const signature = formatSignature(signWithTwin(identity, digest, passphrase()))
  if (opts.output !== undefined) {
    try {
      writeFileSync(opts.output, signature + '\n')
    } catch (err) {
      throw new CliError('FILE_UNWRITABLE', `cannot write ${opts.output}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
    }
  }
  emit(opts.json, { signature }, () => signature)
}

export async function verify (file: string, sig: string, opts: CommonOptions & { kel?: string, signer?: string }): Promise<void> {
  const signature = parseSignature(signatureText(sig))
  if (opts.signer !== undefined) {
    const expected = normalizeTwinId(opts.signer)
    if (expected !== signature.id) throw new CliError('SIGNATURE_WRONG_SIGNER', `the signature was made by twin ${signature.id}, not ${expected}`)
  }
  const known = knownKel(signature.id, opts)
  const digest = await hashFile(file)
  const check = verifyContentSignature(signature, digest, known)
  emit(opts.json, { valid: true, id: check.id, sequence: check.sequence, currentSequence: check.currentSequence, rotated: check.rotated }, () =>
    check.rotated
      ? `valid, made by twin ${check.id} with key sequence ${check.sequence}, since rotated (the current key sequence is ${check.currentSequence})`
      : `valid, made by twin ${check.id} with key sequence ${check.sequence}, its current key`)
}

/** SIGNATURE on the command line: the signature itself, or a file (- for stdin) that holds it. */
function signatureText (sig: string): string {
  if (sig.startsWith(SIGNATURE_PREFIX)) return sig
  try {
    return readFileSync(sig === '-' ? 0 : sig, 'utf8')
  } catch (err) {
    // A file name is shown whole; a long argument (a mangled signature) only by its start.
    const shown = sig.length > 200 ? `${sig.slice(0, 40)}...` : sig
    throw new CliError('SIGNATURE_INVALID', `"${shown}" is neither a Twin signature (text starting with "${SIGNATURE_PREFIX}") nor a readable file (${describeFsError(err)})`)
  }
}

/** The longest key event log the verifier has for `id`: from --kel, or its own twin's. */
function knownKel (id: string, opts: CommonOptions & { kel?: string }): SignedKeyEvent[] | undefined {
  if (opts.kel !== undefined) {
    const exported = parseKelFile(readUserFile(opts.kel, 'key event log file'))
    if (exported.state.id !== id) throw new CliError('KEL_WRONG_TWIN', `the key event log in ${opts.kel} is for twin ${exported.state.id}, but the signature is by ${id}`)
    return exported.events
  }
  const home = resolveHome(opts.home)
  if (!existsSync(home)) return undefined
  try {
    const own = openIdentity(home)
    return own.state.id === id ? own.events : undefined
  } catch (err) {
    // Verifying needs no twin of one's own: a home without a twin is simply not consulted.
    if (err instanceof TwinError && err.code === 'NOT_A_TWIN') return undefined
    throw err
  }
}

function stringList (v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}

/**
 * Remembers the relays and storage nodes a restored twin should use when it starts; the
 * storage nodes are sealed in the document under the vault key, which the phrase gives back.
 * Returns how many storage nodes it found.
 */
async function rememberNetwork (dbPath: string, relays: string[], from: { phrase: string, id: string, doc: TwinDocument }): Promise<number> {
  const { rememberStorageNodes } = await import('../../twin/restore-storage.js')
  const db = openDb(dbPath)
  try {
    if (relays.length > 0) {
      db.prepare('INSERT INTO net_settings (key, value) VALUES (\'relays\', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(JSON.stringify(relays))
    }
    try {
      return rememberStorageNodes(db, derivePurposeKey(phraseToSeed(from.phrase), 'twin/v1/vault'), from.id, from.doc)
    } catch (err) {
      warn(`the twin's list of storage nodes could not be read (${(err as Error).message}); add them again with \`twin storage add\``)
      return 0
    }
  } finally {
    db.close()
  }
}
