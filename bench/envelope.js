// Cost of each step of sealing and receiving one envelope (1 KiB payload), in a warm loop on one
// core, with a memory copy of the same size as the baseline. Explains the messaging figures.
import '../dist/polyfill.js'
import { createIdentity, generatePhrase, x25519PrivateKey, ed25519PrivateKey } from '../dist/identity/index.js'
import { createEnvelope, decodeEnvelope, verifyEnvelopeSignature, openEnvelope } from '../dist/messaging/envelope.js'
import { printTable, writeResults } from './lib.js'

const N = 3000

function time (fn) {
  for (let i = 0; i < 200; i++) fn()
  const t = performance.now()
  for (let i = 0; i < N; i++) fn()
  return (performance.now() - t) / N * 1000
}

export async function run () {
  const a = createIdentity(generatePhrase())
  const b = createIdentity(generatePhrase())
  const signingKey = ed25519PrivateKey(a.current.signing)
  const secret = x25519PrivateKey(b.current.encryption)
  const make = () => createEnvelope({
    from: a.state.id, fromKeySeq: 0, signingKey, to: b.state.id, toKeySeq: 0, toEncryptionKey: b.state.keys.encryption,
    kind: 'request', body: { verb: 'twin.ping', payload: { data: 'x'.repeat(1024) } }
  })
  const envelopes = Array.from({ length: N + 200 }, make)
  let i = 0
  const buf = Buffer.alloc(1300)
  const results = {
    'memcpy 1.3 KB (baseline)': time(() => { Buffer.from(buf) }),
    'seal + sign (createEnvelope)': time(make),
    'decode + schema': time(() => decodeEnvelope(envelopes[i++ % envelopes.length].bytes)),
    'verify signature': time(() => verifyEnvelopeSignature(envelopes[i++ % envelopes.length].envelope, a.state.keys.signing)),
    'open (fresh ephemeral key)': time(() => openEnvelope(envelopes[i++ % envelopes.length].envelope, secret, b.state.keys.encryption))
  }
  const base = results['memcpy 1.3 KB (baseline)']
  printTable(`one envelope, 1 KiB payload (mean of ${N})`, Object.entries(results).map(([step, us]) => ({ step, 'µs': us.toFixed(1), 'x memcpy': (us / base).toFixed(0) })))
  const receive = results['decode + schema'] + results['verify signature'] + results['open (fresh ephemeral key)']
  console.log(`\nper round trip (each side seals one and receives one): ${(2 * (results['seal + sign (createEnvelope)'] + receive)).toFixed(0)} µs of CPU`)
  writeResults('envelope', { microseconds: results })
}
