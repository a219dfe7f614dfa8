import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TwinError } from '../../errors.js'
import { initTwin } from '../../twin/index.js'
import { apiError, callApi, fetchApi } from '../../api/client.js'

const TWIN = fileURLToPath(new URL('../../../bin/twin', import.meta.url))

interface Child { name: string, proc: ChildProcess, ready: Promise<{ addresses?: string[], id?: string }> }

function startChild (name: string, args: string[]): Child {
  const proc = spawn(process.execPath, [TWIN, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  proc.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const ready = new Promise<{ addresses?: string[], id?: string }>((resolve, reject) => {
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl !== -1) {
        const line = JSON.parse(out.slice(0, nl)) as { error?: string, addresses?: string[], id?: string }
        if (line.error !== undefined) reject(new TwinError('DEMO_FAILED', `${name} did not start: ${line.error}`))
        else resolve(line)
      }
    })
    proc.on('exit', code => { reject(new TwinError('DEMO_FAILED', `${name} exited (${code}) before it was ready: ${err.trim().split('\n').pop() ?? ''}`)) })
  })
  ready.catch(() => {})
  return { name, proc, ready }
}

async function stopChild (c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return
  const done = new Promise<void>(resolve => { c.proc.once('exit', () => { resolve() }) })
  c.proc.kill('SIGTERM')
  await Promise.race([done, new Promise(resolve => setTimeout(resolve, 5000))])
  if (c.proc.exitCode === null) c.proc.kill('SIGKILL')
}

async function waitFor<T> (what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return v
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  throw new TwinError('DEMO_FAILED', `timed out waiting for ${what}`)
}

/**
 * The quick start's main job: a small Twin network on this machine. It starts a relay, three
 * twins (alice, bob, carol) and six storage nodes under a temporary folder, sends messages
 * between the twins, stores a file in alice's vault, stops two storage nodes and reads the file
 * back, then keeps everything running for you to try until Ctrl-C, and stops what it started.
 */
export async function demo (opts: { keep?: boolean, json?: boolean, exit?: boolean }): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'twin-demo-'))
  const children: Child[] = []
  const say = (line: string): void => { if (opts.json !== true) process.stdout.write(line + '\n') }
  const summary: Record<string, unknown> = { root }
  try {
    say(`Starting a Twin network in ${root}`)
    const relay = startChild('relay', ['relay', '--home', join(root, 'relay'), '--listen', '/ip4/127.0.0.1/tcp/0'])
    children.push(relay)
    const relayAddress = (await relay.ready).addresses?.[0] as string
    say(`- relay          ${relayAddress}`)

    const twins: Record<string, { id: string, home: string }> = {}
    for (const name of ['alice', 'bob', 'carol']) {
      const home = join(root, name)
      const { identity, phrase } = initTwin(home, { name })
      writeFileSync(join(root, `${name}.phrase`), phrase + '\n', { mode: 0o600 })
      twins[name] = { id: identity.state.id, home }
    }
    const nodes = [1, 2, 3, 4, 5, 6].map(i => startChild(`storage node ${i}`, ['storage-node', '--home', join(root, `storage-${i}`), '--quota', '1GiB', '--listen', '/ip4/127.0.0.1/tcp/0']))
    children.push(...nodes)
    const running = Object.entries(twins).map(([name, t]) => startChild(name, ['start', '--home', t.home, '--bootstrap', relayAddress, '--listen', '/ip4/127.0.0.1/tcp/0']))
    children.push(...running)
    const nodeAddresses = await Promise.all(nodes.map(async n => (await n.ready).addresses?.[0] as string))
    await Promise.all(running.map(async r => await r.ready))
    for (const [name, t] of Object.entries(twins)) say(`- twin ${name.padEnd(7)} ${t.id}  (--home ${t.home})`)
    say(`- 6 storage nodes, 1 GiB each for every twin`)
    const alice = twins.alice as { id: string, home: string }
    const bob = twins.bob as { id: string, home: string }
    const carol = twins.carol as { id: string, home: string }

    // Messages: signed, sealed end to end, acknowledged.
    const sent = [
      [alice, bob, 'hello bob, this is alice'],
      [bob, carol, 'hi carol, bob here'],
      [carol, alice, 'hello alice, from carol']
    ] as const
    for (const [from, to, text] of sent) await callApi(from.home, 'POST', '/v1/messages', { to: to.id, text })
    await waitFor('the messages to be delivered', async () => {
      const all = await Promise.all([alice, bob, carol].map(async t => (await callApi(t.home, 'GET', '/v1/outbox') as { messages: Array<{ status: string }> }).messages))
      return all.flat().every(m => m.status === 'delivered') ? true : undefined
    })
    const bobInbox = (await callApi(bob.home, 'GET', '/v1/inbox') as { messages: Array<{ name: string, text: string }> }).messages
    say('\nMessages (signed by the sender, end-to-end encrypted, acknowledged):')
    for (const [from, to, text] of sent) say(`- ${Object.keys(twins).find(k => twins[k] === from)} -> ${Object.keys(twins).find(k => twins[k] === to)}: "${text}" delivered`)
    const ping = await callApi(alice.home, 'POST', '/v1/call', { to: bob.id, verb: 'twin.ping' }) as { response: unknown }
    say(`- alice called twin.ping on bob: ${JSON.stringify(ping.response)}`)
    summary.messages = { delivered: sent.length, bobInbox: bobInbox.map(m => m.text) }

    // The vault: encrypted, erasure-coded 4 + 2 over the six nodes.
    for (const address of nodeAddresses) await callApi(alice.home, 'POST', '/v1/storage/add', { address })
    const file = join(root, 'holiday.bin')
    writeFileSync(file, randomBytes(12 * 1024 * 1024))
    const hash = createHash('sha256').update(readFileSync(file)).digest('hex')
    const res = await fetchApi(alice.home, 'POST', '/v1/vault/put', { file, as: '/holiday.bin' })
    if (!res.ok) throw await apiError(res)
    const lines = (await res.text()).trim().split('\n').map(l => JSON.parse(l) as { result?: unknown, error?: string })
    const last = lines[lines.length - 1]
    if (last?.error !== undefined) throw new TwinError('DEMO_FAILED', `the put failed: ${last.error}`)
    say(`\nVault: stored /holiday.bin (12 MiB) in alice's vault as 4 + 2 shards per chunk on the six storage nodes`)
    await stopChild(nodes[0] as Child)
    await stopChild(nodes[1] as Child)
    say('- stopped storage nodes 1 and 2')
    const back = await fetchApi(alice.home, 'GET', '/v1/vault/file?path=%2Fholiday.bin')
    if (!back.ok) throw await apiError(back)
    const got = createHash('sha256').update(Buffer.from(await back.arrayBuffer())).digest('hex')
    const intact = got === hash
    say(`- read /holiday.bin back with two nodes down: ${intact ? 'intact, byte for byte' : 'DIFFERENT (this is a bug)'}`)
    if (!intact) throw new TwinError('DEMO_FAILED', 'the file read back differs')
    summary.vault = { path: '/holiday.bin', size: 12 * 1024 * 1024, nodesStopped: 2, intact }
    summary.twins = Object.fromEntries(Object.entries(twins).map(([k, t]) => [k, t]))
    summary.relay = relayAddress

    if (opts.json === true) process.stdout.write(JSON.stringify(summary) + '\n')
    say([
      '',
      'Everything keeps running. From another terminal, try:',
      `  bin/twin inbox --home ${bob.home}`,
      `  bin/twin send ${alice.id} "hi alice" --home ${bob.home}`,
      `  bin/twin outbox --home ${bob.home}`,
      `  bin/twin ls --home ${alice.home}`,
      `  bin/twin get /holiday.bin -o copy.bin --home ${alice.home}`,
      `  bin/twin storage status --home ${alice.home}`,
      `  bin/twin call ${carol.id} twin.describe --home ${alice.home}`,
      `Each twin's recovery phrase is in ${root}/<name>.phrase. Press Ctrl-C to stop everything${opts.keep === true ? '' : ' and remove the folder'}.`
    ].join('\n'))
    if (opts.exit !== true) {
      await new Promise<void>(resolve => { process.once('SIGINT', () => { resolve() }); process.once('SIGTERM', () => { resolve() }) })
    }
  } finally {
    say('\nStopping...')
    await Promise.all(children.map(stopChild))
    if (opts.keep !== true) rmSync(root, { recursive: true, force: true })
  }
}
