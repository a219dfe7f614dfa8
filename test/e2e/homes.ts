import { join } from 'node:path'
import { twinJson } from './helpers.js'
import { makeNatLab, type NatLab, type NatLabOptions } from '../lab/netlab.js'
import type { Proc, Procs } from './processes.js'

/** A twin running in a lab home; CLI commands for it run in `ns`, where its API is. */
export interface HomeTwin { home: string, ns: string, id: string, peerId: string }

export interface HomeNetwork {
  lab: NatLab
  relay: Proc
  relayAddress: string
  alice: HomeTwin
  bob: HomeTwin
  /** The peer id of the storage node in bob's home, when asked for: alice added it by its invite. */
  node?: string
}

/**
 * The NAT lab (test/lab/netlab.js) with a relay on its internet, alice started in the first
 * home and bob in the second, every process with the lab's `--public-range`; optionally a
 * storage node in bob's home (no forwarded port: only its relay reservation) that alice adds by
 * an invite. Homes live under `dir`; the lab goes into `labs` as soon as it exists, and the
 * caller stops `procs` and removes the labs.
 */
export async function homeNetwork (procs: Procs, labs: NatLab[], dir: string, options: NatLabOptions = {}, withNode = false): Promise<HomeNetwork> {
  const lab = await makeNatLab(options)
  labs.push(lab)
  const at = (...p: string[]): string => join(dir, ...p)
  const range = ['--public-range', lab.publicRange]
  const relay = procs.spawn(['relay', '--home', at('relay'), '--listen', '/ip4/0.0.0.0/tcp/4001', ...range], {}, lab.relay.ns)
  const relayAddress = (await relay.ready()).addresses[0] as string
  const twins: HomeTwin[] = []
  for (const [i, who] of ['alice', 'bob'].entries()) {
    const home = at(who)
    const { id } = await twinJson(['init', '--home', home, '--name', who])
    const ns = lab.homes[i]!.ns
    const ready = await procs.spawn(['start', '--home', home, '--bootstrap', relayAddress, ...range], {}, ns).ready()
    twins.push({ home, ns, id, peerId: ready.peerId })
  }
  const [alice, bob] = twins as [HomeTwin, HomeTwin]
  if (!withNode) return { lab, relay, relayAddress, alice, bob }
  const node = await procs.spawn(['storage-node', '--home', at('node'), '--dir', at('node', 'shards'), '--bootstrap', relayAddress, ...range], {}, bob.ns).ready()
  const invite = await twinJson(['storage-node', 'invite', '--home', at('node')], { netns: bob.ns })
  await twinJson(['storage', 'add', invite.token, '--home', alice.home], { netns: alice.ns })
  return { lab, relay, relayAddress, alice, bob, node: node.peerId }
}

/** `twin status --json` of a twin in a lab home. */
export async function homeStatus (t: HomeTwin): Promise<any> {
  return await twinJson(['status', '--home', t.home], { netns: t.ns })
}
