// Baseline responder for the messaging benchmark: answers NATS requests on subject "echo" with
// their own bytes, in its own process, as the twin's responder is a process of its own.
// Usage: node bench/nats-responder.js NATS_URL. Prints one JSON line when subscribed.
import { connect } from 'nats'

const nc = await connect({ servers: process.argv[2] })
const sub = nc.subscribe('echo')
await nc.flush()
console.log(JSON.stringify({ ready: true, pid: process.pid }))
process.on('SIGTERM', () => { void nc.close().then(() => process.exit(0)) })
for await (const m of sub) m.respond(m.data)
