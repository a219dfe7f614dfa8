import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { validateMnemonic } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectCleanFailure, tempDir, twin, twinJson } from './helpers.js'

const tmp = tempDir()
afterAll(tmp.cleanup)
const at = (name: string): string => join(tmp.path, name)

/** A digest of every file in a folder, to show that a failed command changed nothing. */
function snapshot (dir: string): string {
  const h = createHash('sha256')
  for (const name of readdirSync(dir).sort()) {
    h.update(name)
    h.update(readFileSync(join(dir, name)))
  }
  return h.digest('hex')
}

describe('twin init and id', () => {
  let alice: { id: string, phrase: string }
  beforeAll(async () => {
    alice = await twinJson(['init', '--home', at('alice'), '--name', 'Alice'])
    writeFileSync(at('alice.phrase'), alice.phrase + '\n')
  })

  it('creates a twin and shows its phrase once, with a warning, in text form', async () => {
    const r = await twin(['init', '--home', at('bob'), '--name', 'Bob'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Created twin b[a-z2-7]+ \(Bob\)/)
    expect(r.stdout).toMatch(/shown only this once/)
    expect(r.stdout).toMatch(/only way\s+back to this twin/)
    expect(r.stdout.match(/^\s*\d+\. [a-z]+/gm)?.length).toBeGreaterThanOrEqual(6)
  })

  it('prints id and phrase as JSON, and shows who the twin is', async () => {
    expect(alice.id).toMatch(/^b[a-z2-7]{50,}$/)
    expect(alice.phrase.split(' ')).toHaveLength(24)
    const id = await twinJson(['id', '--home', at('alice')])
    expect(id).toEqual({
      id: alice.id,
      did: `did:twin:${alice.id}`,
      name: 'Alice',
      signingKey: expect.stringMatching(/^did:key:z6Mk/),
      encryptionKey: expect.stringMatching(/^did:key:z6LS/),
      sequence: 0
    })
  })

  it('keeps the home private and never stores the phrase', async () => {
    expect(statSync(at('alice')).mode & 0o777).toBe(0o700)
    for (const name of readdirSync(at('alice'))) {
      expect(statSync(join(at('alice'), name)).mode & 0o777, name).toBe(0o600)
      const words = alice.phrase.split(' ').slice(0, 3).join(' ')
      expect(readFileSync(join(at('alice'), name)).includes(Buffer.from(words)), name).toBe(false)
    }
  })

  it('uses $TWIN_HOME when --home is absent', async () => {
    const id = await twinJson(['id'], { env: { TWIN_HOME: at('alice') } })
    expect(id.id).toBe(alice.id)
  })

  it('refuses to touch a folder that already holds a twin, or holds anything else', async () => {
    const before = snapshot(at('alice'))
    expectCleanFailure(await twin(['init', '--home', at('alice')]), /already holds a twin/)
    expect(snapshot(at('alice'))).toBe(before)
    mkdirSync(at('stuff'))
    writeFileSync(at('stuff/notes.txt'), 'mine')
    expectCleanFailure(await twin(['init', '--home', at('stuff')]), /not empty/)
    expect(readdirSync(at('stuff'))).toEqual(['notes.txt'])
  })

  it('says plainly when a home holds no twin', async () => {
    expectCleanFailure(await twin(['id', '--home', at('nobody')]), /no twin in .*nobody/)
  })

  it('restores the same twin, with the same keys, from the phrase alone', async () => {
    const r = await twin(['restore', '--phrase-file', at('alice.phrase'), '--home', at('alice-restored')])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(/phrase alone, at key sequence 0/)
    const a = await twinJson(['id', '--home', at('alice')])
    const b = await twinJson(['id', '--home', at('alice-restored')])
    expect({ ...b, name: 'Alice' }).toEqual(a)
  })

  it('reads the phrase from stdin with -', async () => {
    const r = await twinJson(['restore', '--phrase-file', '-', '--home', at('alice-stdin')], { input: alice.phrase })
    expect(r.id).toBe(alice.id)
  })
})

describe('twin rotate, kel export and restore', () => {
  let alice: { id: string, phrase: string }
  let before: any
  beforeAll(async () => {
    alice = await twinJson(['init', '--home', at('carol'), '--name', 'Carol'])
    writeFileSync(at('carol.phrase'), alice.phrase)
    before = await twinJson(['id', '--home', at('carol')])
  })

  it('changes the keys, keeps the id and raises the sequence by one', async () => {
    const r = await twinJson(['rotate', '--phrase-file', at('carol.phrase'), '--home', at('carol')])
    expect(r.id).toBe(alice.id)
    const after = await twinJson(['id', '--home', at('carol')])
    expect(after.id).toBe(before.id)
    expect(after.sequence).toBe(before.sequence + 1)
    expect(after.signingKey).not.toBe(before.signingKey)
    expect(after.encryptionKey).not.toBe(before.encryptionKey)
    expect(after.name).toBe('Carol')
  })

  it('restores with the exported log at the rotated keys, and without it warns of sequence 0', async () => {
    await twinJson(['kel', 'export', at('carol.kel'), '--home', at('carol')])
    expect(statSync(at('carol.kel')).mode & 0o777).toBe(0o600)
    const current = await twinJson(['id', '--home', at('carol')])
    const withLog = await twin(['restore', '--phrase-file', at('carol.phrase'), '--kel', at('carol.kel'), '--home', at('carol-back')])
    expect(withLog.code).toBe(0)
    expect(withLog.stderr).toBe('')
    expect(await twinJson(['id', '--home', at('carol-back')])).toEqual(current)
    const without = await twin(['restore', '--phrase-file', at('carol.phrase'), '--home', at('carol-old')])
    expect(without.code).toBe(0)
    expect(without.stderr).toMatch(/restore again with --kel FILE/)
    expect((await twinJson(['id', '--home', at('carol-old')])).sequence).toBe(0)
  })

  it('refuses a phrase of another twin and changes nothing', async () => {
    const other = await twinJson(['init', '--home', at('dave')])
    writeFileSync(at('dave.phrase'), other.phrase)
    const snap = snapshot(at('carol'))
    expectCleanFailure(await twin(['rotate', '--phrase-file', at('dave.phrase'), '--home', at('carol')]), /phrase is for twin .* not /)
    expect(snapshot(at('carol'))).toBe(snap)
    expectCleanFailure(await twin(['restore', '--phrase-file', at('dave.phrase'), '--kel', at('carol.kel'), '--home', at('mixed')]), /this recovery phrase is for twin/)
  })

  it('rejects a tampered exported log', async () => {
    const json = JSON.parse(readFileSync(at('carol.kel'), 'utf8'))
    const ev = Buffer.from(json.events[1], 'base64url')
    ev[ev.length - 5] = ev[ev.length - 5]! ^ 1
    json.events[1] = ev.toString('base64url')
    writeFileSync(at('carol-bad.kel'), JSON.stringify(json))
    expectCleanFailure(await twin(['restore', '--phrase-file', at('carol.phrase'), '--kel', at('carol-bad.kel'), '--home', at('carol-bad')]), /key event/)
  })
})

describe('twin sign and verify', () => {
  beforeAll(async () => {
    const e = await twinJson(['init', '--home', at('erin'), '--name', 'Erin'])
    writeFileSync(at('erin.phrase'), e.phrase)
    writeFileSync(at('doc.txt'), 'a contract\n')
    writeFileSync(at('other.txt'), 'another contract\n')
  })

  it('signs and verifies offline, with no twin of the verifier\'s own', async () => {
    const { signature } = await twinJson(['sign', at('doc.txt'), '--home', at('erin')])
    writeFileSync(at('doc.sig'), signature + '\n')
    const id = await twinJson(['id', '--home', at('erin')])
    const r = await twinJson(['verify', at('doc.txt'), at('doc.sig')], { env: { TWIN_HOME: at('no-such-home') } })
    expect(r).toMatchObject({ valid: true, id: id.id, sequence: 0 })
    const text = await twin(['verify', at('doc.txt'), signature], { env: { TWIN_HOME: at('no-such-home') } })
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/^valid, made by twin/)
  })

  it('still verifies after the signer rotated, and says the key was rotated since', async () => {
    await twinJson(['rotate', '--phrase-file', at('erin.phrase'), '--home', at('erin')])
    await twinJson(['kel', 'export', at('erin.kel'), '--home', at('erin')])
    const viaHome = await twin(['verify', at('doc.txt'), at('doc.sig'), '--home', at('erin')])
    expect(viaHome.code).toBe(0)
    expect(viaHome.stdout).toMatch(/valid, made by twin .* with key sequence 0, since rotated/)
    const viaKel = await twinJson(['verify', at('doc.txt'), at('doc.sig'), '--kel', at('erin.kel')], { env: { TWIN_HOME: at('no-such-home') } })
    expect(viaKel).toMatchObject({ valid: true, sequence: 0, currentSequence: 1, rotated: true })
    const fresh = await twinJson(['sign', at('doc.txt'), '--home', at('erin')])
    expect(await twinJson(['verify', at('doc.txt'), fresh.signature], { env: { TWIN_HOME: at('no-such-home') } })).toMatchObject({ sequence: 1, rotated: false })
  })

  it('rejects a signature for another file, truncated, or by another twin than expected', async () => {
    const sig = readFileSync(at('doc.sig'), 'utf8').trim()
    const env = { TWIN_HOME: at('no-such-home') }
    expectCleanFailure(await twin(['verify', at('other.txt'), at('doc.sig')], { env }), /made for different content/)
    expectCleanFailure(await twin(['verify', at('doc.txt'), sig.slice(0, 200)], { env }), /damaged or truncated/)
    // A whole signature with a mangled prefix is neither a signature nor a file name.
    const mangled = 'twinsig2.' + sig.slice('twinsig1.'.length)
    expectCleanFailure(await twin(['verify', at('doc.txt'), mangled], { env }), /^twin: "twinsig2\.\S{31}\.\.\." is neither a Twin signature \(text starting with "twinsig1\."\) nor a readable file \(too long for a file name\)$/m)
    const other = await twinJson(['id', '--home', at('alice')])
    expectCleanFailure(await twin(['verify', at('doc.txt'), at('doc.sig'), '--signer', other.id], { env }), /made by twin .*, not /)
    const json = await twin(['verify', at('other.txt'), at('doc.sig'), '--json'], { env })
    expect(json.code).not.toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ error: expect.stringMatching(/different content/) })
  })

  it('rejects a signature whose embedded log does not belong to the named twin (an unknown signer)', async () => {
    const raw = Buffer.from(readFileSync(at('doc.sig'), 'utf8').trim().slice('twinsig1.'.length), 'base64url')
    const alice = await twinJson(['id', '--home', at('alice')])
    const erin = await twinJson(['id', '--home', at('erin')])
    // Swap the signer id inside the signature for alice's (same length): the log no longer matches.
    const forged = Buffer.from(raw.toString('latin1').replace(erin.id, alice.id), 'latin1')
    expectCleanFailure(await twin(['verify', at('doc.txt'), 'twinsig1.' + forged.toString('base64url')], { env: { TWIN_HOME: at('no-such-home') } }), /cannot be verified/)
  })

  it('says which file is missing', async () => {
    expectCleanFailure(await twin(['sign', at('missing.txt'), '--home', at('erin')]), /cannot read .*missing\.txt: no such file/)
    expectCleanFailure(await twin(['verify', at('doc.txt'), at('missing.sig')]), /missing\.sig" is neither a Twin signature \(text starting with "twinsig1\."\) nor a readable file \(no such file\)/)
    expectCleanFailure(await twin(['restore', '--phrase-file', at('missing.phrase'), '--home', at('x')]), /cannot read the phrase file/)
  })
})

describe('bad input changes nothing', () => {
  let home: string
  beforeAll(async () => {
    home = at('frank')
    const f = await twinJson(['init', '--home', home])
    writeFileSync(at('frank.phrase'), f.phrase)
  })

  it('rejects a phrase with a wrong word or checksum', async () => {
    const words = readFileSync(at('frank.phrase'), 'utf8').trim().split(' ')
    writeFileSync(at('typo.phrase'), [...words.slice(0, 23), 'notaword'].join(' '))
    expectCleanFailure(await twin(['restore', '--phrase-file', at('typo.phrase'), '--home', at('g')]), /word 24 .* not a BIP39 English word/)
    // One last word in 256 carries a valid checksum: take one that does not.
    const last = wordlist.find(w => !validateMnemonic([...words.slice(0, 23), w].join(' '), wordlist)) as string
    writeFileSync(at('sum.phrase'), [...words.slice(0, 23), last].join(' '))
    expectCleanFailure(await twin(['restore', '--phrase-file', at('sum.phrase'), '--home', at('g')]), /wrong checksum/)
    const snap = snapshot(home)
    expectCleanFailure(await twin(['rotate', '--phrase-file', at('typo.phrase'), '--home', home]), /not a BIP39 English word/)
    expect(snapshot(home)).toBe(snap)
  })

  it('detects a tampered key file', async () => {
    const keysPath = join(home, 'keys.json')
    const original = readFileSync(keysPath, 'utf8')
    const json = JSON.parse(original)
    json.signing = Buffer.alloc(32, 1).toString('base64url')
    writeFileSync(keysPath, JSON.stringify(json))
    writeFileSync(at('x.txt'), 'x')
    expectCleanFailure(await twin(['sign', at('x.txt'), '--home', home]), /key file does not hold this twin's current keys/)
    writeFileSync(keysPath, '{ "format": "twin-keys/1", ')
    expectCleanFailure(await twin(['sign', at('x.txt'), '--home', home]), /key file is damaged/)
    writeFileSync(keysPath, original)
    expect((await twin(['sign', at('x.txt'), '--home', home])).code).toBe(0)
  })

  it('detects a tampered key event log in the database', async () => {
    const copy = at('frank-copy')
    mkdirSync(copy)
    for (const name of readdirSync(home)) writeFileSync(join(copy, name), readFileSync(join(home, name)))
    const db = new Database(join(copy, 'twin.db'))
    const row = db.prepare('SELECT event FROM identity_kel WHERE seq = 0').get() as { event: Buffer }
    row.event[row.event.length - 3] = row.event[row.event.length - 3]! ^ 1
    db.prepare('UPDATE identity_kel SET event = ? WHERE seq = 0').run(row.event)
    db.close()
    expectCleanFailure(await twin(['id', '--home', copy]), /key event log (does not verify|is damaged)/)
  })

  it('reports a usage error for an unknown command or a missing argument', async () => {
    const r = await twin(['sing', 'x'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/unknown command 'sing'/)
    expect((await twin(['rotate', '--home', home])).code).toBe(2)
  })
})

describe('TWIN_PASSPHRASE', () => {
  it('encrypts the key file at init and needs the passphrase to sign and rotate', async () => {
    const home = at('grace')
    const g = await twinJson(['init', '--home', home], { env: { TWIN_PASSPHRASE: 'open sesame' } })
    writeFileSync(at('grace.phrase'), g.phrase)
    const keyFile = readFileSync(join(home, 'keys.json'), 'utf8')
    expect(JSON.parse(keyFile).encrypted.kdf).toBe('scrypt')
    writeFileSync(at('y.txt'), 'y')
    expectCleanFailure(await twin(['sign', at('y.txt'), '--home', home]), /set TWIN_PASSPHRASE/)
    expectCleanFailure(await twin(['sign', at('y.txt'), '--home', home], { env: { TWIN_PASSPHRASE: 'wrong' } }), /wrong passphrase/)
    expect((await twin(['sign', at('y.txt'), '--home', home], { env: { TWIN_PASSPHRASE: 'open sesame' } })).code).toBe(0)
    const snap = snapshot(home)
    expectCleanFailure(await twin(['rotate', '--phrase-file', at('grace.phrase'), '--home', home]), /set TWIN_PASSPHRASE/)
    expect(snapshot(home)).toBe(snap)
    expect((await twinJson(['rotate', '--phrase-file', at('grace.phrase'), '--home', home], { env: { TWIN_PASSPHRASE: 'open sesame' } })).sequence).toBe(1)
    expect(JSON.parse(readFileSync(join(home, 'keys.json'), 'utf8')).encrypted.kdf).toBe('scrypt')
    expect((await twin(['sign', at('y.txt'), '--home', home], { env: { TWIN_PASSPHRASE: 'open sesame' } })).code).toBe(0)
  })
})

describe('twin demo', () => {
  it('runs a network of a relay, three twins and six storage nodes, shows messages and an intact file, and stops it all on Ctrl-C', async () => {
    const { Proc } = await import('./processes.js')
    const demo = new Proc(['demo'])
    const summary = await demo.ready()
    expect(summary.messages.delivered).toBe(3)
    expect(summary.messages.bobInbox).toEqual(['hello bob, this is alice'])
    expect(summary.vault).toEqual({ path: '/holiday.bin', size: 12 * 1024 * 1024, nodesStopped: 2, intact: true })
    expect(Object.keys(summary.twins)).toEqual(['alice', 'bob', 'carol'])
    // While it runs, each twin answers the CLI from another terminal.
    const inbox = await twinJson(['inbox', '--home', summary.twins.bob.home])
    expect(inbox.messages[0]).toMatchObject({ from: summary.twins.alice.id, text: 'hello bob, this is alice' })
    expect(await demo.stop('SIGINT')).toBe(0)
    expect(() => statSync(summary.root)).toThrow()
  }, 120_000)
})
