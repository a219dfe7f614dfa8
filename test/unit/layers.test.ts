import { readdirSync, readFileSync } from 'node:fs'
import { join, posix, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// The parts of src/, lowest first: a part may import only parts listed before it (and the
// root's errors.ts). docs/ARCHITECTURE.md, "Parts and their rules", lists the same order.
const LAYERS = ['wire', 'fs', 'db', 'identity', 'trust', 'shards', 'net', 'messaging', 'relay', 'storage', 'vault', 'api', 'twin', 'cli']

// Imports of another part's file other than its index.ts, each with the reason it is allowed.
// The CLI is not listed: it loads, per command, only the files that command runs.
const DEEP_IMPORTS_ALLOWED: Record<string, string> = {
  'src/storage/operator.ts -> src/net/peer-key-file.ts': 'the operator\'s commands must not load libp2p, which net/index.ts does'
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** `src/a/b.ts` for every TypeScript file under src/. */
function sourceFiles (dir = join(ROOT, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(path)
    return e.name.endsWith('.ts') ? [relative(ROOT, path).split('\\').join('/')] : []
  })
}

// Static imports and re-exports (one line or several, types too) and import() expressions.
const STATIC = /^(?:import|export)(?:\s+type)?\s*(?:\*(?:\s+as\s+\w+)?|\{[^}]*\}|\w+(?:\s*,\s*\{[^}]*\})?)\s*from\s*'([^']+)'/gm
const DYNAMIC = /\bimport\(\s*'([^']+)'\s*\)/g

/** The relative imports of a file, as paths of the files they name (`src/net/index.ts`). */
function importsOf (file: string, text: string): string[] {
  const specifiers = [...text.matchAll(STATIC), ...text.matchAll(DYNAMIC)].map(m => m[1] as string)
  return specifiers.filter(s => s.startsWith('.')).map(s => posix.join(posix.dirname(file), s).replace(/\.js$/, '.ts'))
}

/** `net` for `src/net/role.ts`; undefined for a file at the root of src/. */
function partOf (file: string): string | undefined {
  const parts = file.split('/')
  return parts.length > 2 ? parts[1] : undefined
}

/** Every import that breaks the rules, as one line each. */
function violations (files: Map<string, string>): string[] {
  const found: string[] = []
  for (const [file, text] of files) {
    const from = partOf(file)
    for (const target of importsOf(file, text)) {
      const to = partOf(target)
      const edge = `${file} -> ${target}`
      if (from === undefined) {
        // The SDK (src/index.ts) is above every part; errors.ts and polyfill.ts are below them all.
        if (file !== 'src/index.ts' && to !== undefined) found.push(`${edge}: ${file} is below every part`)
        continue
      }
      if (to === undefined) {
        if (target !== 'src/errors.ts') found.push(`${edge}: a part imports only errors.ts from the root of src/`)
        continue
      }
      if (to === from) continue
      const a = LAYERS.indexOf(from)
      const b = LAYERS.indexOf(to)
      if (a === -1 || b === -1) {
        found.push(`${edge}: ${a === -1 ? from : to} is not in the list of parts`)
      } else if (b > a) {
        found.push(`${edge}: ${from} is below ${to}`)
      } else if (from !== 'cli' && target !== `src/${to}/index.ts` && DEEP_IMPORTS_ALLOWED[edge] === undefined) {
        found.push(`${edge}: import src/${to}/index.ts instead`)
      }
    }
  }
  return found
}

describe('the layers of src/', () => {
  const files = new Map(sourceFiles().map(f => [f, readFileSync(join(ROOT, f), 'utf8')]))

  it('has no part that imports a part above it, or another part\'s file other than its index.ts', () => {
    expect(violations(files)).toEqual([])
  })

  it('reads the imports of every kind the code uses, so the check above is not vacuous', () => {
    const all = [...files].flatMap(([f, text]) => importsOf(f, text))
    expect(all.length).toBeGreaterThan(300)
    expect(importsOf('src/twin/daemon.ts', files.get('src/twin/daemon.ts') as string)).toContain('src/net/index.ts')
    // A multi-line import, and an import() in a type position.
    expect(importsOf('src/x/y.ts', 'import {\n  a,\n  type B\n} from \'../net/index.js\'\n')).toEqual(['src/net/index.ts'])
    expect(importsOf('src/cli/y.ts', 'let x: import(\'../relay/index.js\').MailboxLimits')).toEqual(['src/relay/index.ts'])
  })

  it('reports a lower part that imports a higher one, a deep import and an unknown part', () => {
    const bad = new Map([
      ['src/net/role.ts', 'import { acquireLock } from \'../twin/lock.js\'\n'],
      ['src/messaging/x.ts', 'import type { Resolver } from \'../net/resolver.js\'\n'],
      ['src/vault/y.ts', 'export { a } from \'../nowhere/index.js\'\n'],
      ['src/wire/z.ts', 'const m = await import(\'../../src/db/index.js\')\n'],
      ['src/errors.ts', 'import { x } from \'./wire/index.js\'\n']
    ])
    expect(violations(bad)).toEqual([
      'src/net/role.ts -> src/twin/lock.ts: net is below twin',
      'src/messaging/x.ts -> src/net/resolver.ts: import src/net/index.ts instead',
      'src/vault/y.ts -> src/nowhere/index.ts: nowhere is not in the list of parts',
      'src/wire/z.ts -> src/db/index.ts: wire is below db',
      'src/errors.ts -> src/wire/index.ts: src/errors.ts is below every part'
    ])
  })

  it('lists the same parts in the same order as docs/ARCHITECTURE.md', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8')
    const section = doc.slice(doc.indexOf('## Parts and their rules'))
    const listed = [...section.slice(0, section.indexOf('\n## ', 1)).matchAll(/^\d+\. `([a-z]+)`/gm)].map(m => m[1])
    expect(listed).toEqual(LAYERS)
    expect(readdirSync(join(ROOT, 'src'), { withFileTypes: true }).filter(e => e.isDirectory()).map(e => e.name).sort()).toEqual([...LAYERS].sort())
  })
})
