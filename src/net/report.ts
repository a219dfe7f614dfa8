import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { SHARED_READ_BUDGET } from './budget.js'
import type { TwinLibp2p } from './node.js'

/** What a running role holds right now: memory (after a full collection), connections, streams. */
export interface RoleReport {
  role: string
  pid: number
  memory: { rss: number, heapUsed: number, external: number, arrayBuffers: number }
  connections: number
  streams: Record<string, number>
  /** Unread bytes held by frame readers (src/net/budget.ts). */
  buffered: number
}

let gc: (() => void) | undefined

/**
 * Reports what the process holds. It runs a full garbage collection first, so the heap figure
 * is what is live, not what the collector has not got round to yet: the figure an operator
 * (or a test) needs to tell a leak from garbage.
 */
export function roleReport (role: string, node: TwinLibp2p): RoleReport {
  if (gc === undefined) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  }
  gc()
  const m = process.memoryUsage()
  const streams: Record<string, number> = {}
  const connections = node.getConnections()
  for (const c of connections) {
    for (const s of c.streams) streams[s.protocol ?? 'negotiating'] = (streams[s.protocol ?? 'negotiating'] ?? 0) + 1
  }
  return {
    role,
    pid: process.pid,
    memory: { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers },
    connections: connections.length,
    streams,
    buffered: SHARED_READ_BUDGET.held
  }
}

/** On SIGUSR2, writes one line `{"report": {...}}` to stderr (stdout stays the command's output). */
export function reportOnSignal (role: string, node: () => TwinLibp2p): () => void {
  const handler = (): void => { process.stderr.write(JSON.stringify({ report: roleReport(role, node()) }) + '\n') }
  process.on('SIGUSR2', handler)
  return () => { process.off('SIGUSR2', handler) }
}
