import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { HTTP_STATUSES, TwinError } from '../../src/errors.js'
import { VaultError } from '../../src/vault/errors.js'
import { StorageNodeError } from '../../src/storage/errors.js'
import { BackendError } from '../../src/shards/errors.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Every `errors.ts` under src/. */
function errorFiles (dir = join(ROOT, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return errorFiles(path)
    return e.name === 'errors.ts' ? [path] : []
  })
}

/** Each `*_ERRORS` list exported by an errors.ts, by name, with the file it is in. */
async function codeLists (): Promise<Map<string, { file: string, codes: Record<string, number> }>> {
  const lists = new Map<string, { file: string, codes: Record<string, number> }>()
  for (const path of errorFiles()) {
    const module = await import(pathToFileURL(path).href) as Record<string, unknown>
    for (const [name, value] of Object.entries(module)) {
      if (name.endsWith('_ERRORS') && typeof value === 'object' && value !== null && !Array.isArray(value)) {
        lists.set(name, { file: relative(ROOT, path).split('\\').join('/'), codes: value as Record<string, number> })
      }
    }
  }
  return lists
}

describe('error codes', () => {
  it('are listed by every part that throws errors, each with an HTTP status the API uses', async () => {
    const lists = await codeLists()
    // One list per errors.ts (src/errors.ts holds the base's).
    expect(new Set([...lists.values()].map(l => l.file)).size).toBe(errorFiles().length)
    for (const { codes } of lists.values()) {
      for (const [code, status] of Object.entries(codes)) {
        expect(code).toMatch(/^[A-Z][A-Z0-9_]*$/)
        expect(HTTP_STATUSES).toContain(status)
      }
    }
  })

  it('give a code found in several parts the same status in each', async () => {
    const seen = new Map<string, { status: number, list: string }>()
    const clashes: string[] = []
    for (const [list, { codes }] of await codeLists()) {
      for (const [code, status] of Object.entries(codes)) {
        const before = seen.get(code)
        if (before !== undefined && before.status !== status) clashes.push(`${code}: ${before.status} in ${before.list}, ${status} in ${list}`)
        seen.set(code, { status, list })
      }
    }
    expect(clashes).toEqual([])
  })

  it('are documented in docs/ERRORS.md: every list, code and status, and nothing else', async () => {
    const doc = readFileSync(join(ROOT, 'docs', 'ERRORS.md'), 'utf8')
    const documented = new Map<string, Record<string, number>>()
    let current: Record<string, number> | undefined
    for (const line of doc.split('\n')) {
      const heading = /^### `([A-Z_]+)`/.exec(line)
      if (heading !== null) documented.set(heading[1] as string, current = {})
      const row = /^\| `([A-Z0-9_]+)` \| (\d{3}) \|/.exec(line)
      if (row !== null && current !== undefined) current[row[1] as string] = Number(row[2])
    }
    const lists = await codeLists()
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries([...lists].map(([name, l]) => [name, { ...l.codes }])))
  })

  it('carry their part\'s status, and take only their part\'s codes', () => {
    expect(new VaultError('NOT_FOUND', 'no file /x in the vault')).toMatchObject({ code: 'NOT_FOUND', status: 404, name: 'VaultError' })
    expect(new StorageNodeError('STORAGE_INVITE_EXPIRED', 'expired')).toMatchObject({ code: 'STORAGE_INVITE_EXPIRED', status: 400 })
    expect(new BackendError('over-quota', 'full')).toMatchObject({ code: 'STORAGE_OVER_QUOTA', reason: 'over-quota', status: 507 })
    expect(new VaultError('PATH_INVALID', 'x')).toBeInstanceOf(TwinError)
    // These lines are checked by `npm run typecheck`: each must be a type error.
    // @ts-expect-error: NOPE is not in VAULT_ERRORS
    expect(() => new VaultError('NOPE', 'x')).not.toThrow()
    // @ts-expect-error: a storage node's code is not a vault code
    expect(() => new VaultError('STORAGE_INVITE_EXPIRED', 'x')).not.toThrow()
    // @ts-expect-error: TwinError is abstract; each part throws its own class
    expect(() => new TwinError('NOT_FOUND', 404, 'x')).not.toThrow()
  })
})
