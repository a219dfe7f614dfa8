// Types of netlab.js (see there).

/**
 * A namespace joined to the host by a veth pair, with its own addresses and, where asked, a rate
 * limit (`tc tbf`) in one direction. Names carry the process's pid, so parallel test files and
 * leftovers of a killed run do not collide.
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

/** A host inside a lab: its namespace and its address there. */
export interface LabHost { ns: string, ip: string }

/** A home: a LAN host behind a router that does NAT (MASQUERADE) and keeps a stateful firewall. */
export interface Home extends LabHost {
  /** The router's namespace and its public (WAN) address. */
  router: LabHost
}

/** The relay's network and the homes, joined by an "internet" router namespace. */
export interface NatLab {
  relay: LabHost
  homes: Home[]
  /** The range the lab uses as its public internet (give it to `--public-range`). */
  publicRange: string
  /** Forwards `port` of a home's router to the same port of the home's host (a port forward). */
  forwardPort: (home: Home, port: number) => void
  remove: () => void
}

/** How the lab's internet treats packets (every option off: a clean network). */
export interface NatLabOptions {
  homes?: number
  /** Each home's upload rate (`tc tbf` on its router's WAN side); a list gives one per home (undefined: no limit). */
  uplinkKbit?: number | Array<number | undefined>
  /** The internet drops packets for private addresses silently instead of answering "unreachable". */
  dropPrivate?: boolean
  /**
   * Delay and loss of each public link (relay's, each home's): every packet crosses two of them,
   * so it is held twice `linkDelayMs` and lost with the probability of failing either link.
   * Done by a user-space emulator (link-emulator.pl) since the kernel has no netem.
   */
  linkDelayMs?: number
  linkLoss?: number
  /** The homes' routers map each connection to a random port (symmetric NAT: no hole punching). */
  symmetric?: boolean
}

export function labUnavailable (): string | undefined
export function makeLink (options?: { uplinkKbit?: number, queueMs?: number }): Link
export function makeNatLab (options?: NatLabOptions): Promise<NatLab>
export function natLabUnavailable (): string | undefined
