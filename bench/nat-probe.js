// The parts of `npm run bench -- nat` that must run inside a lab's network namespace (where a
// twin's API and the lab's addresses are). Prints one JSON line.
//   calls HOME ID N         N calls of twin.ping through the twin's API, one after another (ms each)
//   until-direct HOME PEER  ms until the twin's status lists a direct connection to PEER
//   put HOME FILE AS        seconds of one put through the API
//   sink PORT BYTES         accepts one connection, reads BYTES, answers one byte (raw TCP baseline)
//   source HOST PORT BYTES  sends BYTES to a sink; seconds from connect until its answer
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { twinApi } from './lib.js'

const [mode, ...args] = process.argv.slice(2)
const elapsedMs = start => Number(process.hrtime.bigint() - start) / 1e6
const out = value => { process.stdout.write(JSON.stringify(value) + '\n') }

if (mode === 'calls') {
  const [home, id, n] = args
  const ms = []
  for (let i = 0; i < Number(n); i++) {
    const t = process.hrtime.bigint()
    await twinApi(home, 'POST', '/v1/call', { to: id, verb: 'twin.ping', payload: {} })
    ms.push(elapsedMs(t))
  }
  out({ ms })
} else if (mode === 'until-direct') {
  const [home, peer] = args
  const t = process.hrtime.bigint()
  while (elapsedMs(t) < 60_000) {
    const s = await twinApi(home, 'GET', '/v1/status')
    if (s.links.some(l => l.peer === peer && l.path === 'direct')) break
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  out({ ms: elapsedMs(t) })
} else if (mode === 'put') {
  const [home, file, as] = args
  // The answer is a line per progress step, then the result (or an error) on the last line.
  const f = JSON.parse(readFileSync(join(home, 'api.json'), 'utf8'))
  const t = process.hrtime.bigint()
  const res = await fetch(f.url + '/v1/vault/put', { method: 'POST', headers: { authorization: `Bearer ${f.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ file, as }) })
  const last = JSON.parse((await res.text()).trim().split('\n').pop())
  const seconds = elapsedMs(t) / 1000
  if (last.result === undefined) { console.error(`put failed: ${last.error}`); process.exit(1) }
  out({ seconds })
} else if (mode === 'sink') {
  const [port, bytes] = args.map(Number)
  const server = net.createServer(socket => {
    let got = 0
    socket.on('data', d => {
      got += d.length
      if (got >= bytes) socket.end(Buffer.of(1), () => { server.close() })
    })
  })
  server.listen(port, () => { out({ listening: port }) })
} else if (mode === 'source') {
  const [host, port, bytes] = [args[0], Number(args[1]), Number(args[2])]
  const block = Buffer.alloc(64 * 1024, 7)
  const t = process.hrtime.bigint()
  const socket = net.connect({ host, port })
  socket.on('connect', () => {
    let left = bytes
    const write = () => {
      while (left > 0) {
        const n = Math.min(left, block.length)
        left -= n
        if (!socket.write(n === block.length ? block : block.subarray(0, n))) { socket.once('drain', write); return }
      }
    }
    write()
  })
  socket.on('data', () => { out({ seconds: elapsedMs(t) / 1000 }); socket.destroy() })
  socket.on('error', err => { console.error(err.message); process.exit(1) })
} else {
  console.error(`unknown mode ${mode}`)
  process.exit(2)
}
