import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { ed25519DidKey, formatSignature, parseSignature, verifyContentSignature } from '../../identity/index.js'
import { exportKel, initTwin, openIdentity, restoreTwin, rotateTwin, signWithTwin } from '../../twin/index.js'

/**
 * The quick start's main job: creates a twin in a temporary folder and walks through what its
 * identity can do, printing each step and the commands to do the same by hand.
 */
export async function demo (opts: { keep?: boolean, json?: boolean }): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'twin-demo-'))
  const steps: Array<{ step: string, result: string }> = []
  const say = (step: string, result: string): void => {
    steps.push({ step, result })
    if (opts.json !== true) process.stdout.write(`- ${step}\n    ${result}\n`)
  }
  try {
    const aliceHome = join(root, 'alice')
    const { identity: alice, phrase } = initTwin(aliceHome, { name: 'Alice' })
    say('twin init --name Alice', `created twin ${alice.state.id}, key sequence 0, with a 24-word recovery phrase`)

    const file = join(root, 'letter.txt')
    writeFileSync(file, 'Dear Bob, this letter is really from me. Alice\n')
    const digest = createHash('sha256').update('Dear Bob, this letter is really from me. Alice\n').digest()
    const sig = formatSignature(signWithTwin(alice, digest))
    say('twin sign letter.txt', `signature ${sig.slice(0, 40)}... (${sig.length} characters, carries alice's key event log)`)

    const phraseFile = join(root, 'alice.phrase')
    writeFileSync(phraseFile, phrase + '\n', { mode: 0o600 })
    const rotated = rotateTwin(openIdentity(aliceHome), phrase)
    say('twin rotate --phrase-file alice.phrase', `same id, new signing key ${ed25519DidKey(rotated.state.keys.signing)}, key sequence ${rotated.state.sequence}`)

    const check = verifyContentSignature(parseSignature(sig), digest, rotated.events)
    say('twin verify letter.txt SIG', `valid: made by ${check.id} with key sequence ${check.sequence}, since rotated (now ${check.currentSequence})`)

    const kelFile = join(root, 'alice.kel')
    writeFileSync(kelFile, exportKel(rotated))
    const restored = restoreTwin(join(root, 'alice-restored'), phrase, { kelText: exportKel(rotated) })
    const same = restored.identity.state.id === alice.state.id &&
      ed25519DidKey(restored.identity.state.keys.signing) === ed25519DidKey(rotated.state.keys.signing)
    say('twin restore --phrase-file alice.phrase --kel alice.kel', same
      ? `same twin ${restored.identity.state.id} and the same current keys (key sequence ${restored.identity.state.sequence}) from the phrase and the log alone`
      : 'MISMATCH: the restored twin differs')
    if (!same) throw new Error('demo: restore produced a different twin')

    if (opts.json === true) {
      process.stdout.write(JSON.stringify({ home: aliceHome, id: alice.state.id, steps }) + '\n')
    } else {
      process.stdout.write([
        '',
        opts.keep === true ? `Everything is in ${root}. Try:` : 'Try it yourself:',
        `  bin/twin id --home ${opts.keep === true ? aliceHome : '/tmp/alice'}`,
        ...(opts.keep === true ? [] : ['  bin/twin init --home /tmp/alice --name Alice']),
        `  bin/twin sign FILE --home ${opts.keep === true ? aliceHome : '/tmp/alice'} > FILE.sig`,
        '  bin/twin verify FILE FILE.sig',
        '  bin/twin --help',
        ''
      ].join('\n'))
    }
  } finally {
    if (opts.keep !== true) rmSync(root, { recursive: true, force: true })
  }
}
