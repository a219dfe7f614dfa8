import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CliError } from '../errors.js'
import { initTwin } from '../../twin/index.js'
import { apiError, callApi, fetchApi } from '../../api/client.js'
import { createInvite } from '../../storage/operator.js'

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
        if (line.error !== undefined) reject(new CliError('DEMO_FAILED', `${name} did not start: ${line.error}`))
        else resolve(line)
      }
    })
    proc.on('exit', code => { reject(new CliError('DEMO_FAILED', `${name} exited (${code}) before it was ready: ${err.trim().split('\n').pop() ?? ''}`)) })
  })
  ready.catch(() => {})
  return { name, proc, ready }
}

const exited = (c: Child): boolean => c.proc.exitCode !== null || c.proc.signalCode !== null

async function stopChild (c: Child): Promise<void> {
  if (exited(c)) return
  const done = new Promise<void>(resolve => { c.proc.once('exit', () => { resolve() }) })
  c.proc.kill('SIGTERM')
  await Promise.race([done, new Promise(resolve => setTimeout(resolve, 5000))])
  if (c.proc.exitCode === null) c.proc.kill('SIGKILL')
}

/** How long the demo waits for its messages to be delivered before it reports what it saw. */
const DELIVERY_WAIT_MS = 30_000

async function waitFor<T> (what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const v = await fn().catch(() => undefined)
    if (v !== undefined) return v
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  throw new CliError('DEMO_FAILED', `timed out waiting for ${what}`)
}

/**
 * The quick start's main job: a small Twin network on this machine. It starts a relay, three
 * twins (alice, bob, carol) and six storage nodes under a temporary folder, sends messages
 * between the twins, has alice redeem an invite from each storage node, stores a file in her
 * vault, stops two storage nodes and reads the file back, then keeps everything running for
 * you to try until Ctrl-C, and stops what it started. The summary reports what it observed.
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
    const nodeHomes = [1, 2, 3, 4, 5, 6].map(i => join(root, `storage-${i}`))
    const nodes = nodeHomes.map((home, i) => startChild(`storage node ${i + 1}`, ['storage-node', '--home', home, '--quota', '1GiB', '--listen', '/ip4/127.0.0.1/tcp/0']))
    children.push(...nodes)
    const running = Object.entries(twins).map(([name, t]) => startChild(name, ['start', '--home', t.home, '--bootstrap', relayAddress, '--listen', '/ip4/127.0.0.1/tcp/0']))
    children.push(...running)
    await Promise.all(nodes.map(async n => await n.ready))
    await Promise.all(running.map(async r => await r.ready))
    for (const [name, t] of Object.entries(twins)) say(`- twin ${name.padEnd(7)} ${t.id}  (--home ${t.home})`)
    say('- 6 storage nodes, each serving only the twins its operator admits (1 GiB each)')
    const alice = twins.alice as { id: string, home: string }
    const bob = twins.bob as { id: string, home: string }
    const carol = twins.carol as { id: string, home: string }

    // Messages: signed, sealed end to end, acknowledged.
    const sent = [
      [alice, bob, 'hello bob, this is alice'],
      [bob, carol, 'hi carol, bob here'],
      [carol, alice, 'hello alice, from carol']
    ] as const
    const ids: string[] = []
    for (const [from, to, text] of sent) ids.push((await callApi(from.home, 'POST', '/v1/messages', { to: to.id, text }) as { id: string }).id)
    const statuses = async (): Promise<Map<string, string>> => {
      const all = await Promise.all([alice, bob, carol].map(async t => (await callApi(t.home, 'GET', '/v1/outbox') as { messages: Array<{ id: string, status: string }> }).messages))
      return new Map(all.flat().map(m => [m.id, m.status]))
    }
    await waitFor('the messages to be delivered', async () => {
      const s = await statuses()
      return ids.every(id => s.get(id) === 'delivered') ? true : undefined
    }, DELIVERY_WAIT_MS).catch(() => false)
    const final = await statuses()
    const bobInbox = (await callApi(bob.home, 'GET', '/v1/inbox') as { messages: Array<{ name: string, text: string }> }).messages
    say('\nMessages (signed by the sender, end-to-end encrypted, acknowledged):')
    sent.forEach(([from, to, text], i) => { say(`- ${Object.keys(twins).find(k => twins[k] === from)} -> ${Object.keys(twins).find(k => twins[k] === to)}: "${text}" ${final.get(ids[i] as string) ?? 'unknown'}`) })
    const ping = await callApi(alice.home, 'POST', '/v1/call', { to: bob.id, verb: 'twin.ping' }) as { response: unknown }
    say(`- alice called twin.ping on bob: ${JSON.stringify(ping.response)}`)
    summary.messages = { delivered: ids.filter(id => final.get(id) === 'delivered').length, bobInbox: bobInbox.map(m => m.text) }

    // The vault: each node's operator gives alice an invite, which her twin redeems.
    for (const home of nodeHomes) {
      const { token } = createInvite(home, { expiresInMs: 3600_000 })
      await callApi(alice.home, 'POST', '/v1/storage/add', { address: token })
    }
    say('\nVault: each storage node gave alice an invite (`twin storage-node invite`); her twin redeemed them (`twin storage add TOKEN`)')
    const file = join(root, 'holiday.bin')
    writeFileSync(file, randomBytes(12 * 1024 * 1024))
    const hash = createHash('sha256').update(readFileSync(file)).digest('hex')
    const res = await fetchApi(alice.home, 'POST', '/v1/vault/put', { file, as: '/holiday.bin' })
    if (!res.ok) throw await apiError(res)
    const lines = (await res.text()).trim().split('\n').map(l => JSON.parse(l) as { result?: unknown, error?: string })
    const last = lines[lines.length - 1]
    if (last?.error !== undefined) throw new CliError('DEMO_FAILED', `the put failed: ${last.error}`)
    say('- stored /holiday.bin (12 MiB) in alice\'s vault as 4 + 2 shards per chunk on the six storage nodes')
    const stopping = [nodes[0], nodes[1]] as Child[]
    for (const n of stopping) await stopChild(n)
    // Count what really stopped: the process is gone and alice's twin sees the node offline.
    const offline = (await callApi(alice.home, 'GET', '/v1/storage/status') as { peers: Array<{ online: boolean }> }).peers.filter(p => !p.online).length
    const nodesStopped = Math.min(stopping.filter(exited).length, offline)
    say(`- stopped storage nodes 1 and 2 (${nodesStopped} offline)`)
    const back = await fetchApi(alice.home, 'GET', '/v1/vault/file?path=%2Fholiday.bin')
    if (!back.ok) throw await apiError(back)
    const got = createHash('sha256').update(Buffer.from(await back.arrayBuffer())).digest('hex')
    const intact = got === hash
    say(`- read /holiday.bin back with two nodes down: ${intact ? 'intact, byte for byte' : 'DIFFERENT (this is a bug)'}`)
    if (!intact) throw new CliError('DEMO_FAILED', 'the file read back differs')
    summary.vault = { path: '/holiday.bin', size: 12 * 1024 * 1024, nodesStopped, intact }
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
      `  bin/twin storage-node clients --home ${nodeHomes[2] as string}`,
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
