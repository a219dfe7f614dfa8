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

/** A host inside a lab: its namespace and its address there. */
export interface LabHost { ns: string, ip: string }

/** A home: a LAN host behind a router that does NAT (MASQUERADE) and keeps a stateful firewall. */
export interface Home extends LabHost {
  /** The router's namespace and its public (WAN) address. */
  router: LabHost
}

/** The relay's network and two homes, joined by an "internet" router namespace. */
export interface NatLab {
  relay: LabHost
  homes: Home[]
  /** The range the lab uses as its public internet (give it to `--public-range`). */
  publicRange: string
  remove: () => void
}

const sh = (ns: string, ...args: string[]): void => { execFileSync('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }) }

/**
 * Builds the home-network lab: an "internet" namespace routing 100.64.0.0/16 (the lab's
 * public range: libp2p and Twin treat it as private unless told otherwise, see
 * `--public-range`) between a relay's namespace and each home's router. Each router masquerades
 * its LAN (192.168.N.0/24) behind its WAN address, forwards only what the LAN started, and
 * drops unsolicited packets to itself, as a home router with no forwarded ports does.
 * `uplinkKbit` limits each home's upload (`tc tbf` on the router's WAN side); `dropPrivate`
 * makes the internet drop packets for private addresses silently instead of answering
 * "unreachable" (a LAN address someone published is then a dead end that costs a timeout).
 * Everything lives in namespaces named with this process's pid, so nothing outside changes and
 * `remove` takes all of it away.
 */
export function makeNatLab (options: { homes?: number, uplinkKbit?: number, dropPrivate?: boolean } = {}): NatLab {
  const n = made++
  const tag = `${process.pid % 10000}${n}`
  const inet = `twI${tag}`
  const made_: string[] = []
  const netns = (name: string): string => { ip('netns', 'add', name); made_.push(name); sh(name, 'ip', 'link', 'set', 'lo', 'up'); return name }
  const forward = (ns: string): void => { sh(ns, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward') }
  /** A veth pair from `a` (address `aIp`) to `b` (address `bIp`), both in a /24. */
  const wire = (a: string, aName: string, aIp: string, b: string, bName: string, bIp: string): void => {
    ip('link', 'add', `${aName}`, 'netns', a, 'type', 'veth', 'peer', 'name', bName, 'netns', b)
    sh(a, 'ip', 'addr', 'add', `${aIp}/24`, 'dev', aName)
    sh(b, 'ip', 'addr', 'add', `${bIp}/24`, 'dev', bName)
    sh(a, 'ip', 'link', 'set', aName, 'up')
    sh(b, 'ip', 'link', 'set', bName, 'up')
  }
  const remove = (): void => {
    for (const name of made_.reverse()) {
      try { ip('netns', 'del', name) } catch { /* already gone */ }
    }
  }
  try {
    netns(inet)
    forward(inet)
    const relayNs = netns(`twR${tag}`)
    wire(inet, 'r0', '100.64.0.1', relayNs, 'eth0', '100.64.0.2')
    sh(relayNs, 'ip', 'route', 'add', 'default', 'via', '100.64.0.1')
    if (options.dropPrivate === true) {
      for (const range of ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']) sh(inet, 'ip', 'route', 'add', 'blackhole', range)
    }
    const homes: Home[] = []
    for (let i = 1; i <= (options.homes ?? 2); i++) {
      const router = netns(`twG${tag}${i}`)
      const host = netns(`twH${tag}${i}`)
      const wan = `100.64.${i}.2`
      wire(inet, `h${i}`, `100.64.${i}.1`, router, 'wan', wan)
      wire(router, 'lan', `192.168.${i}.1`, host, 'eth0', `192.168.${i}.2`)
      sh(router, 'ip', 'route', 'add', 'default', 'via', `100.64.${i}.1`)
      sh(host, 'ip', 'route', 'add', 'default', 'via', `192.168.${i}.1`)
      forward(router)
      const rules = [
        ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE'],
        ['-P', 'FORWARD', 'DROP'],
        ['-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-j', 'ACCEPT'],
        ['-A', 'FORWARD', '-i', 'wan', '-o', 'lan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
        ['-A', 'INPUT', '-i', 'wan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
        ['-A', 'INPUT', '-i', 'wan', '-j', 'DROP']
      ]
      for (const r of rules) sh(router, 'iptables', ...r)
      if (options.uplinkKbit !== undefined) {
        sh(router, 'tc', 'qdisc', 'add', 'dev', 'wan', 'root', 'tbf', 'rate', `${options.uplinkKbit}kbit`, 'burst', '16kb', 'latency', '200ms')
      }
      homes.push({ ns: host, ip: `192.168.${i}.2`, router: { ns: router, ip: wan } })
    }
    return { relay: { ns: relayNs, ip: '100.64.0.2' }, homes, publicRange: '100.64.0.0/16', remove }
  } catch (err) {
    remove()
    throw err
  }
}

/** Whether this machine can build the NAT lab: `labUnavailable()`'s needs plus iptables. */
export function natLabUnavailable (): string | undefined {
  const base = labUnavailable()
  if (base !== undefined) return base
  try {
    execFileSync('iptables', ['-V'], { stdio: 'ignore' })
  } catch {
    return '`iptables` is missing (Debian: apt-get install iptables)'
  }
  return undefined
}
