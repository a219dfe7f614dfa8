// Network labs on one machine, built from network namespaces, for the end-to-end tests of
// test/e2e and for `npm run bench -- nat`: plain JavaScript so that both can load it (types in
// netlab.d.ts). Needs root, iproute2 and, for the NAT lab, iptables; Perl runs the link emulator.
import { execFileSync, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
const ip = (...args) => { execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] }) }
let made = 0

/**
 * Whether this machine can build labs: root (for network namespaces) and iproute2. Where it
 * cannot, the lab tests are reported as skipped with this reason (README, "Quick start").
 */

export function labUnavailable () {
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

export function makeLink (options = {}) {
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
    try {
      ip('netns', 'del', ns)
    } catch { /* already gone */ }
    throw err
  }
  return {
    ns,
    hostIp,
    nsIp,
    inner,
    remove: () => {
      try {
        ip('netns', 'del', ns)
      } catch { /* already gone */ }
      try {
        ip('link', 'del', host)
      } catch { /* went with the namespace */ }
    }
  }
}

const EMULATOR = fileURLToPath(new URL('./link-emulator.pl', import.meta.url))

const sh = (ns, ...args) => { execFileSync('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }) }

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

export async function makeNatLab (options = {}) {
  const n = made++
  const tag = `${process.pid % 10000}${n}`
  const inet = `twI${tag}`
  const made_ = []
  const netns = (name) => { ip('netns', 'add', name); made_.push(name); sh(name, 'ip', 'link', 'set', 'lo', 'up'); return name }
  const forward = (ns) => { sh(ns, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward') }
  /** A veth pair from `a` (address `aIp`) to `b` (address `bIp`), both in a /24. */
  const wire = (a, aName, aIp, b, bName, bIp) => {
    ip('link', 'add', `${aName}`, 'netns', a, 'type', 'veth', 'peer', 'name', bName, 'netns', b)
    sh(a, 'ip', 'addr', 'add', `${aIp}/24`, 'dev', aName)
    sh(b, 'ip', 'addr', 'add', `${bIp}/24`, 'dev', bName)
    sh(a, 'ip', 'link', 'set', aName, 'up')
    sh(b, 'ip', 'link', 'set', bName, 'up')
  }
  let emulator
  const remove = () => {
    emulator?.kill('SIGKILL')
    for (const name of made_.reverse()) {
      try {
        ip('netns', 'del', name)
      } catch { /* already gone */ }
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
    const homes = []
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
        ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE', ...(options.symmetric === true ? ['--random-fully'] : [])],
        ['-P', 'FORWARD', 'DROP'],
        ['-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-j', 'ACCEPT'],
        ['-A', 'FORWARD', '-i', 'wan', '-o', 'lan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
        ['-A', 'INPUT', '-i', 'wan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
        ['-A', 'INPUT', '-i', 'wan', '-j', 'DROP']
      ]
      for (const r of rules) sh(router, 'iptables', ...r)
      const uplink = Array.isArray(options.uplinkKbit) ? options.uplinkKbit[i - 1] : options.uplinkKbit
      if (uplink !== undefined) {
        sh(router, 'tc', 'qdisc', 'add', 'dev', 'wan', 'root', 'tbf', 'rate', `${uplink}kbit`, 'burst', '16kb', 'latency', '200ms')
      }
      homes.push({ ns: host, ip: `192.168.${i}.2`, router: { ns: router, ip: wan } })
    }
    if (options.linkDelayMs !== undefined || options.linkLoss !== undefined) {
      // Everything the internet forwards goes through the emulator: in at e0, out at e1, from
      // where the main routing table sends it on.
      for (const dev of ['e0', 'e1']) {
        sh(inet, 'ip', 'tuntap', 'add', 'dev', dev, 'mode', 'tun')
        sh(inet, 'ip', 'link', 'set', dev, 'up')
      }
      sh(inet, 'sh', '-c', 'for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done')
      for (const dev of ['r0', ...homes.map((_h, i) => `h${i + 1}`)]) sh(inet, 'ip', 'rule', 'add', 'iif', dev, 'lookup', '100')
      sh(inet, 'ip', 'route', 'add', 'default', 'dev', 'e0', 'table', '100')
      const perLink = options.linkLoss ?? 0
      const loss = 1 - (1 - perLink) ** 2
      emulator = spawn('ip', ['netns', 'exec', inet, 'perl', EMULATOR, 'e0', 'e1', String(2 * (options.linkDelayMs ?? 0)), String(loss)], { stdio: ['ignore', 'pipe', 'pipe'] })
      const started = emulator
      await new Promise((resolve, reject) => {
        let err = ''
        started.stderr.on('data', (d) => { err += d.toString() })
        started.stdout.once('data', () => { resolve() })
        started.once('exit', code => { reject(new Error(`the link emulator exited ${code}: ${err}`)) })
      })
    }
    const forwardPort = (home, port) => {
      sh(home.router.ns, 'iptables', '-t', 'nat', '-A', 'PREROUTING', '-i', 'wan', '-p', 'tcp', '--dport', String(port), '-j', 'DNAT', '--to-destination', `${home.ip}:${port}`)
      sh(home.router.ns, 'iptables', '-A', 'FORWARD', '-i', 'wan', '-o', 'lan', '-p', 'tcp', '-d', home.ip, '--dport', String(port), '-j', 'ACCEPT')
    }
    return { relay: { ns: relayNs, ip: '100.64.0.2' }, homes, publicRange: '100.64.0.0/16', forwardPort, remove }
  } catch (err) {
    remove()
    throw err
  }
}

/** Whether this machine can build the NAT lab: `labUnavailable()`'s needs plus iptables, and perl for the link emulator. */

export function natLabUnavailable () {
  const base = labUnavailable()
  if (base !== undefined) return base
  for (const [tool, flag, pkg] of [['iptables', '-V', 'iptables'], ['perl', '-v', 'perl-base']]) {
    try {
      execFileSync(tool, [flag], { stdio: 'ignore' })
    } catch {
      return `\`${tool}\` is missing (Debian: apt-get install ${pkg})`
    }
  }
  return undefined
}
