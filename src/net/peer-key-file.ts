import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { NetError } from './errors.js'
import { fromBase64url, toBase64url } from '../wire/index.js'
import { writeFileAtomic } from '../fs/index.js'

const schema = z.strictObject({ format: z.string().max(50), seed: z.string().max(100) })

/**
 * The libp2p key seed of a relay or storage node, kept in `<home>/<name>` (0600) so the node's
 * peer id and address survive restarts. Created on first start.
 */
export function loadOrCreatePeerSeed (home: string, name: string, format: string): Uint8Array {
  const path = join(home, name)
  let text: string | undefined
  try {
    text = readFileSync(path, 'utf8')
  } catch { /* a new node */ }
  if (text === undefined) {
    const seed = new Uint8Array(randomBytes(32))
    writeFileAtomic(path, JSON.stringify({ format, seed: toBase64url(seed) }) + '\n')
    return seed
  }
  try {
    const parsed = schema.parse(JSON.parse(text))
    if (parsed.format !== format) throw new Error('format')
    const seed = fromBase64url(parsed.seed, 'key seed')
    if (seed.length !== 32) throw new Error('length')
    return seed
  } catch {
    throw new NetError('KEYFILE_INVALID', `the key file ${path} is damaged`)
  }
}
