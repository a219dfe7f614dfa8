import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createIdentity, formatKeyFile, formatSignature, generatePhrase, parseKeyFile, parseSignature, rotateIdentity,
  signContent, verifyContentSignature, SignatureError, KeyFileError, SIGNATURE_PREFIX
} from '../../src/identity/index.js'
import { decodeCbor, encodeCbor, fromBase64url, sha256, toBase64url, utf8 } from '../../src/wire/index.js'
import { openDb, type Migration } from '../../src/db/index.js'
import { TwinError } from '../../src/errors.js'

const phrase = generatePhrase()
const made = createIdentity(phrase)
const digest = sha256(utf8('the content'))

describe('content signatures', () => {
  it('verifies offline from the signature alone', () => {
    const text = formatSignature(signContent(digest, made.current.signing, made.events, made.state))
    expect(verifyContentSignature(parseSignature(text), digest)).toMatchObject({ valid: true, id: made.state.id, sequence: 0, rotated: false })
  })

  it('reports a signature by a key rotated away as valid but since rotated', () => {
    const text = formatSignature(signContent(digest, made.current.signing, made.events, made.state))
    const rotated = rotateIdentity(phrase, made.events)
    expect(verifyContentSignature(parseSignature(text), digest, rotated.events))
      .toMatchObject({ valid: true, sequence: 0, currentSequence: 1, rotated: true })
  })

  it('says when the signature is for other content', () => {
    const sig = parseSignature(formatSignature(signContent(digest, made.current.signing, made.events, made.state)))
    expect(() => verifyContentSignature(sig, sha256(utf8('other')))).toThrow(/made for different content/)
  })

  it('says when the signature is truncated or not a signature at all', () => {
    const text = formatSignature(signContent(digest, made.current.signing, made.events, made.state))
    expect(() => parseSignature(text.slice(0, text.length - 10))).toThrow(/damaged or truncated/)
    expect(() => parseSignature('hello')).toThrow(/not a Twin signature/)
  })

  // The signature object with some fields changed, encoded as a signature text again.
  const altered = (change: (value: Record<string, unknown>) => void): string => {
    const text = formatSignature(signContent(digest, made.current.signing, made.events, made.state))
    const value = decodeCbor(fromBase64url(text.slice(SIGNATURE_PREFIX.length), 'signature'), 'signature') as Record<string, unknown>
    change(value)
    return SIGNATURE_PREFIX + toBase64url(encodeCbor(value))
  }

  it('refuses a signer id in another case inside a signature, and says why', () => {
    expect(made.state.id).toMatch(/^b[a-z2-7]+$/)
    const upper = altered(v => { v.id = made.state.id.toUpperCase() })
    expect(() => parseSignature(upper)).toThrow(SignatureError)
    expect(() => parseSignature(upper)).toThrow(/signer id .* must be in canonical form \(lower-case base32/)
  })

  it('names an unknown field instead of calling the signature damaged', () => {
    expect(() => parseSignature(altered(v => { v.note = 'hi' }))).toThrow(/unknown field "note": signed structures allow no fields beyond/)
  })

  it('rejects a signature whose key log was swapped for another twin\'s', () => {
    const other = createIdentity(generatePhrase())
    const sig = signContent(digest, made.current.signing, other.events, made.state)
    expect(() => verifyContentSignature(parseSignature(formatSignature(sig)), digest)).toThrow(SignatureError)
  })

  it('rejects a signature by another key claiming to be this twin', () => {
    const other = createIdentity(generatePhrase())
    const sig = signContent(digest, other.current.signing, made.events, made.state)
    expect(() => verifyContentSignature(parseSignature(formatSignature(sig)), digest)).toThrow(/not made by this twin's key/)
  })
})

describe('key file', () => {
  it('round-trips plain keys and checks them against the log', () => {
    const keys = parseKeyFile(formatKeyFile(made.state.id, made.current), made.state)
    expect(keys).toEqual(made.current)
  })

  it('seals keys with a passphrase and needs it back', () => {
    const text = formatKeyFile(made.state.id, made.current, 'correct horse')
    expect(text).not.toContain(Buffer.from(made.current.signing).toString('base64url'))
    expect(parseKeyFile(text, made.state, 'correct horse')).toEqual(made.current)
    expect(() => parseKeyFile(text, made.state)).toThrow(/set TWIN_PASSPHRASE/)
    expect(() => parseKeyFile(text, made.state, 'wrong')).toThrow(/wrong passphrase/)
  })

  it('detects a tampered key', () => {
    const json = JSON.parse(formatKeyFile(made.state.id, made.current))
    json.signing = Buffer.alloc(32, 7).toString('base64url')
    expect(() => parseKeyFile(JSON.stringify(json), made.state)).toThrow(KeyFileError)
    expect(() => parseKeyFile('{"format":', made.state)).toThrow(/damaged/)
  })

  it('says that a rotation was interrupted when the keys are behind the log', () => {
    const rotated = rotateIdentity(phrase, made.events)
    expect(() => parseKeyFile(formatKeyFile(made.state.id, made.current), rotated.state)).toThrow(/interrupted rotation/)
  })
})

describe('database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twin-db-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  const migrations: Migration[] = [
    { name: 'one', sql: 'CREATE TABLE a (x INTEGER) STRICT;' },
    { name: 'two', sql: 'CREATE TABLE b (y INTEGER) STRICT;' }
  ]

  it('creates a private file and runs numbered migrations once', () => {
    const path = join(dir, 'a.db')
    const db = openDb(path, { create: true, migrations: migrations.slice(0, 1) })
    db.close()
    expect(statSync(path).mode & 0o777).toBe(0o600)
    const again = openDb(path, { migrations })
    expect(again.pragma('user_version', { simple: true })).toBe(2)
    again.prepare('INSERT INTO b (y) VALUES (1)').run()
    again.close()
  })

  it('refuses a database from a newer version of Twin', () => {
    const path = join(dir, 'b.db')
    openDb(path, { create: true, migrations }).close()
    expect(() => openDb(path, { migrations: migrations.slice(0, 1) })).toThrow(TwinError)
  })

  it('rolls back a migration that fails, leaving the version unchanged', () => {
    const path = join(dir, 'c.db')
    openDb(path, { create: true, migrations: migrations.slice(0, 1) }).close()
    expect(() => openDb(path, { migrations: [...migrations.slice(0, 1), { name: 'bad', sql: 'CREATE TABLE b (y INTEGER) STRICT; NOT SQL;' }] })).toThrow()
    const db = openDb(path, { migrations: migrations.slice(0, 1) })
    expect(db.pragma('user_version', { simple: true })).toBe(1)
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'b'").get()).toEqual({ n: 0 })
    db.close()
  })
})
