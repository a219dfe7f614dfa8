import { execFileSync } from 'node:child_process'

/**
 * Network namespaces for tests that need a real network stack between processes: a link with
 * its own addresses and, where asked, a rate limit (`tc tbf`) in one direction. Needs root and
 * iproute2 (`ip`, `tc`); CI runs as root and installs iproute2. Names carry the test process's
 * pid, so parallel test files and leftovers of a killed run do not collide.
 */
export interface Link {
  /** The namespace: processes started with `Procs.spawn(args, env, link.ns)` run inside it. */
  ns: string
  /** The host side's address, reachable from inside the namespace. */
  hostIp: string
  /** The namespace side's address, reachable from the host. */
  nsIp: string
  /** The namespace side's interface (inside `ns`), to take the link down from there. */
  inner: string
  /** Removes the namespace and its link. */
  remove: () => void
}

const ip = (...args: string[]): void => { execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] }) }

let made = 0

/**
 * Whether this machine can build labs: root (for network namespaces) and iproute2. Where it
 * cannot, the lab tests are reported as skipped with this reason (README, "Quick start").
 */
export function labUnavailable (): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  for (const tool of ['ip', 'tc']) {
    try {
      execFileSync(tool, ['-V'], { stdio: 'ignore' })
    } catch {
      return `\`${tool}\` is missing (Debian: apt-get install iproute2)`
    }
  }
  return undefined
}

/**
 * A namespace joined to the host by a veth pair with a /30 of 10.199.0.0/16. `uplinkKbit` limits
 * what the host sends into the namespace (a slow link as seen from a twin on the host uploading
 * to something inside): a token bucket with a queue of `queueMs`, as a home router's uplink has.
 */
export function makeLink (options: { uplinkKbit?: number, queueMs?: number } = {}): Link {
  const n = made++
  const tag = `${process.pid % 10000}${n}`
  const ns = `twl${tag}`
  const host = `twh${tag}`
  const inner = `twn${tag}`
  const third = (process.pid + n) % 250
  const hostIp = `10.199.${third}.1`
  const nsIp = `10.199.${third}.2`
  ip('netns', 'add', ns)
  try {
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', inner)
    ip('link', 'set', inner, 'netns', ns)
    ip('addr', 'add', `${hostIp}/30`, 'dev', host)
    ip('link', 'set', host, 'up')
    ip('-n', ns, 'addr', 'add', `${nsIp}/30`, 'dev', inner)
    ip('-n', ns, 'link', 'set', inner, 'up')
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    if (options.uplinkKbit !== undefined) {
      execFileSync('tc', ['qdisc', 'add', 'dev', host, 'root', 'tbf', 'rate', `${options.uplinkKbit}kbit`, 'burst', '16kb', 'latency', `${options.queueMs ?? 200}ms`], { stdio: ['ignore', 'ignore', 'pipe'] })
    }
  } catch (err) {
    try { ip('netns', 'del', ns) } catch { /* already gone */ }
    throw err
  }
  return {
    ns,
    hostIp,
    nsIp,
    inner,
    remove: () => {
      try { ip('netns', 'del', ns) } catch { /* already gone */ }
      try { ip('link', 'del', host) } catch { /* went with the namespace */ }
    }
  }
}
