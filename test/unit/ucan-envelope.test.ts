import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { base58btc } from 'multiformats/bases/base58'
import { encodeCbor } from '../../src/wire/index.js'
import {
  ED25519_DAG_CBOR_HEADER, UcanError, createDelegation, decodeDelegation, decodeInvocation, keySigner, parsePrincipal, parseTokenCid
} from '../../src/trust/ucan/index.js'

const alice = keySigner(new Uint8Array(randomBytes(32)))
const bob = keySigner(new Uint8Array(randomBytes(32)))
const payload = { iss: alice.did, aud: bob.did, sub: alice.did, cmd: '/vault', pol: [], nonce: new Uint8Array(12), exp: null }

/** An envelope around any payload, with a placeholder signature: decoding checks form, not signatures. */
const envelope = (body: unknown, tag = 'ucan/dlg@1.0.0', header: Uint8Array = ED25519_DAG_CBOR_HEADER, extra: Record<string, unknown> = {}): Uint8Array =>
  encodeCbor([new Uint8Array(64), { h: header, [tag]: body, ...extra }])

describe('decoding a token', () => {
  it('reads a well-formed delegation envelope', () => {
    expect(decodeDelegation(envelope(payload)).payload).toEqual(payload)
  })

  it('refuses every missing, mistyped or unknown field, naming it', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...payload, exp: undefined }, /has no "exp" field, which is required/],
      [{ ...payload, exp: 1.5 }, /"exp" must be an integer between -\(2\^53 - 1\) and 2\^53 - 1 or null, got a float/],
      [{ ...payload, exp: 2n ** 60n }, /"exp" must be an integer/],
      [{ ...payload, nbf: null }, /"nbf" must be an integer .*, got null/],
      [{ ...payload, nonce: 'abc' }, /"nonce" must be bytes, got a string/],
      [{ ...payload, cmd: '/Vault' }, /command \(cmd\) must be lower case/],
      [{ ...payload, pol: {} }, /"pol" must be a list/],
      [{ ...payload, pol: [['~', '.a', 1]] }, /unknown operator "~"/],
      [{ ...payload, aud: 'mailto:bob@example.com' }, /audience \(aud\) is not a DID/],
      [{ ...payload, sub: `${alice.did}#key-1` }, /without path, query or fragment/],
      [{ ...payload, iss: 'did:twin:BCIQ' }, /not a twin id in canonical/],
      [{ ...payload, meta: [] }, /"meta" must be a map, got a list/],
      [{ ...payload, can: '/vault' }, /has an unknown field "can": extensions belong in "meta"/]
    ]
    for (const [body, message] of cases) {
      const clean = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined))
      expect(() => decodeDelegation(envelope(clean)), message.source).toThrow(message)
    }
  })

  it('refuses other envelope shapes, tags, versions and signature algorithms, saying which', () => {
    expect(() => decodeDelegation(envelope(payload, 'ucan/inv@1.0.0'))).toThrow('this token is an invocation, not a delegation')
    expect(() => decodeInvocation(envelope(payload))).toThrow('this token is a delegation, not an invocation')
    expect(() => decodeDelegation(envelope(payload, 'ucan/dlg@1.0.0-rc.1'))).toThrow('UCAN delegation version 1.0.0-rc.1; Twin reads version 1.0.0')
    expect(() => decodeDelegation(envelope(payload, 'ucan/dlg@1.0.0', ED25519_DAG_CBOR_HEADER, { x: 1 }))).toThrow(/exactly "h" and one "ucan\/\.\.\." payload/)
    const p256 = Uint8Array.of(0x34, 0x01, 0xec, 0x01, 0x80, 0x24, 0x00, 0x12, 0x71)
    expect(() => decodeDelegation(envelope(payload, 'ucan/dlg@1.0.0', p256))).toThrow('the token is signed with ECDSA; Twin accepts only Ed25519 signatures')
    const json = Uint8Array.of(0x34, 0x01, 0xed, 0x01, 0xed, 0x01, 0x13, 0xa9, 0x02)
    expect(() => decodeDelegation(envelope(payload, 'ucan/dlg@1.0.0', json))).toThrow('names DAG-JSON; UCAN payloads are signed as DAG-CBOR')
    expect(() => decodeDelegation(encodeCbor([new Uint8Array(64)]))).toThrow(/two-element list/)
    expect(() => decodeDelegation(encodeCbor({ a: 1 }))).toThrow(/two-element list/)
  })

  it('refuses bytes that are not canonical DAG-CBOR, such as a float holding a whole number', () => {
    const good = envelope(payload)
    // Re-encode "exp": null as the 8-byte float 1.0, which JavaScript cannot tell from the integer 1.
    const withFloat = envelope({ ...payload, exp: 1 })
    const key = Buffer.from(withFloat).indexOf(Buffer.from([0x63, 0x65, 0x78, 0x70])) // text(3) "exp"
    const at = key + 4
    expect(withFloat[at]).toBe(0x01)
    const floatOne = Uint8Array.of(0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0)
    const bytes = Uint8Array.from([...withFloat.subarray(0, at), ...floatOne, ...withFloat.subarray(at + 1)])
    expect(() => decodeDelegation(bytes)).toThrow('the delegation is not canonical DAG-CBOR')
    expect(() => decodeDelegation(Uint8Array.from([...good, 0]))).toThrow(UcanError)
    expect(() => decodeDelegation(new Uint8Array(64 * 1024 + 1))).toThrow(/at most 65536 bytes/)
  })

  it('keeps its own copy of the bytes, and hands out read-only values', () => {
    const made = createDelegation({ issuer: alice, audience: bob.did, subject: alice.did, command: '/vault', policy: [['==', '.a', [1]]], expiration: null })
    const buffer = made.bytes.slice()
    const decoded = decodeDelegation(buffer)
    buffer.fill(0)
    expect(decoded.bytes).toEqual(made.bytes)
    expect(() => { (decoded.payload as any).cmd = '/' }).toThrow(TypeError)
    expect(() => { (decoded.payload.pol[0] as any).push(1) }).toThrow(TypeError)
    expect(Object.isFrozen(decoded)).toBe(true)
  })
})

describe('principals, signers and token ids', () => {
  it('reads did:key (Ed25519 and X25519), did:twin and other DIDs, refusing non-canonical spellings', () => {
    expect(parsePrincipal(alice.did, 'x')).toMatchObject({ method: 'key', keyType: 'Ed25519' })
    expect(parsePrincipal('did:web:example.com', 'x')).toEqual({ method: 'other', did: 'did:web:example.com' })
    expect(() => parsePrincipal('did:key:z6Mk', 'x')).toThrow(/holds no Ed25519 or X25519 public key/)
    expect(() => parsePrincipal('DID:key:z6Mk', 'x')).toThrow(/not a DID/)
  })

  it('signs only UCAN signature payloads, so a twin key cannot be led to sign other bytes', () => {
    expect(() => alice.sign(new TextEncoder().encode('twin/kel/v1\0anything'))).toThrow('a UCAN signer signs only UCAN signature payloads')
    expect(() => alice.sign(Uint8Array.of(0xa2, 0x61, 0x68, 0x48, ...ED25519_DAG_CBOR_HEADER))).toThrow(UcanError)
  })

  it('reads a token id in base32 or base58btc, and refuses CIDs that cannot name a UCAN', () => {
    const made = createDelegation({ issuer: alice, audience: bob.did, subject: alice.did, command: '/vault', expiration: null })
    expect(parseTokenCid(made.id).equals(made.cid)).toBe(true)
    expect(parseTokenCid(made.cid.toString(base58btc)).equals(made.cid)).toBe(true)
    expect(() => parseTokenCid('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')).toThrow(/not the CID of a UCAN/)
    expect(() => parseTokenCid('hello')).toThrow(/not a CID/)
  })
})

