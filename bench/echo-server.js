// Baseline server: raw libp2p echo of length-prefixed frames on one TCP/Noise/Yamux connection,
// the same transport stack a twin uses. Prints its multiaddr, then echoes until killed.
import '../dist/polyfill.js'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { lpStream } from '@libp2p/utils'

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), ping: ping() }
})
await node.handle('/bench/echo/1', async (stream) => {
  const lp = lpStream(stream, { maxDataLength: 1 << 20 })
  try {
    while (true) await lp.write(await lp.read())
  } catch { /* closed */ }
}, { maxInboundStreams: 1024 })
console.log(JSON.stringify({ address: node.getMultiaddrs()[0].toString() }))
process.on('SIGTERM', async () => { await node.stop(); process.exit(0) })
