import { Command, CommanderError, Option } from 'commander'
import { reportError } from './output.js'
import { CliError } from './errors.js'

const VERSION = '0.1.0'

/** Adds the options every command takes. */
function common (cmd: Command): Command {
  return cmd
    .addOption(new Option('--home <dir>', 'the twin\'s home folder (default: $TWIN_HOME, else ~/.twin)'))
    .option('--json', 'print one JSON object instead of text')
}

// Each action loads its module when it runs, so `twin id` does not pay for the network or the vault.
const identity = async () => await import('./commands/identity.js')
const demo = async () => await import('./commands/demo.js')
const network = async () => await import('./commands/network.js')
const vault = async () => await import('./commands/vault.js')
const storageNode = async () => await import('./commands/storage-node.js')
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value]

export function buildProgram (): Command {
  const program = new Command('twin')
    .description('Twin: your own digital twin. It holds your identity and your data, and talks to other twins directly.')
    .version(VERSION, '-V, --version')
    .showSuggestionAfterError()
    .configureHelp({ sortSubcommands: false })
    .exitOverride() // inherited by the commands added below; main() maps the exit codes
    // Options after a subcommand belong to it: `storage-node invite --quota` is the invite's quota.
    .enablePositionalOptions()

  common(program.command('init'))
    .description('create a new twin in an empty home folder and show its 24-word recovery phrase, once')
    .option('--name <name>', 'a display name for the twin')
    .action(async (opts) => { (await identity()).init(opts) })

  common(program.command('id'))
    .description('show who the twin is: id, name, current public keys and key sequence')
    .action(async (opts) => { (await identity()).id(opts) })

  common(program.command('restore'))
    .description('rebuild a twin from its recovery phrase in an empty home folder')
    .requiredOption('--phrase-file <file>', 'file holding the 24-word recovery phrase (- for stdin)')
    .option('--kel <file>', 'the twin\'s exported key event log, to come back with its latest keys')
    .option('--name <name>', 'display name (default: the one in the exported log, if any)')
    .option('--bootstrap <multiaddr>', 'fetch the twin\'s key event log through this relay (repeatable)', collect)
    .action(async (opts) => { await (await identity()).restore(opts) })

  common(program.command('rotate'))
    .description('replace the twin\'s operational keys (after a suspected compromise); the id stays')
    .requiredOption('--phrase-file <file>', 'file holding the 24-word recovery phrase (- for stdin)')
    .action(async (opts) => { (await identity()).rotate(opts) })

  const kel = program.command('kel').description('the twin\'s key event log')
  common(kel.command('export'))
    .description('write the twin\'s key event log (and current twin document) to FILE (- for stdout)')
    .argument('<file>', 'where to write it')
    .action(async (file, opts) => { (await identity()).kelExport(file, opts) })

  common(program.command('sign'))
    .description('sign a file\'s bytes with the twin\'s current key and print the signature')
    .argument('<file>', 'the file to sign (- for stdin)')
    .option('-o, --output <file>', 'also write the signature to this file')
    .action(async (file, opts) => { await (await identity()).sign(file, opts) })

  common(program.command('verify'))
    .description('with FILE and SIGNATURE: check a signature made by `twin sign` (needs no twin of your own). ' +
      'Without arguments: audit every shard of the running twin\'s vault now and report')
    .argument('[file]', 'the signed file (- for stdin)')
    .argument('[signature]', 'the signature text, or a file holding it')
    .option('--kel <file>', 'a newer key event log of the signer, to learn of later rotations')
    .option('--signer <id>', 'also require that this twin made the signature')
    .action(async (file, sig, opts) => {
      if (file === undefined) { await (await vault()).verifyVault(opts); return }
      if (sig === undefined) throw new CliError('USAGE', 'give both FILE and SIGNATURE to check a signature, or nothing to audit the vault')
      await (await identity()).verify(file, sig, opts)
    })

  common(program.command('start'))
    .description('run the twin: its network node, delivery of messages and its local HTTP API, until Ctrl-C')
    .option('--bootstrap <multiaddr>', 'a relay to use (repeatable; remembered for later starts)', collect)
    .option('--listen <multiaddr>', 'where to listen directly (repeatable; default /ip4/0.0.0.0/tcp/0)', collect)
    .option('--announce <multiaddr>', 'direct address to publish instead of the listening ones (repeatable)', collect)
    .option('--public-range <cidr>', 'treat this reserved address range as public, e.g. 100.64.0.0/10 (repeatable; for labs and private networks)', collect)
    .option('--no-hole-punching', 'stay on the relay with twins reached through it: no hole punching, so they do not learn this machine\'s public address from it (every byte passes the relay)')
    .option('--api-port <port>', 'port of the HTTP API on 127.0.0.1 (default: any free port, written to api.json)')
    .action(async (opts) => { await (await network()).start(opts) })

  common(program.command('relay'))
    .description('run a relay: DHT server, circuit relay and mailbox for twins that are offline')
    .option('--listen <multiaddr>', 'where to listen (repeatable; default /ip4/0.0.0.0/tcp/4001)', collect)
    .option('--announce <multiaddr>', 'address to publish instead of the listening ones (repeatable)', collect)
    .option('--public-range <cidr>', 'treat this reserved address range as public, e.g. 100.64.0.0/10 (repeatable; for labs and private networks)', collect)
    .option('--mailbox-messages <n>', 'most envelopes kept for one twin (default 100000)')
    .option('--mailbox-size <size>', 'most bytes kept for one twin, e.g. 512MiB (default 512MiB)')
    .option('--sender-messages <n>', 'most envelopes one sender may have waiting, in all mailboxes (default 20000)')
    .option('--sender-size <size>', 'most bytes one sender may have waiting, in all mailboxes (default 256MiB)')
    .option('--total-messages <n>', 'most envelopes the relay keeps in all (default 1000000)')
    .option('--total-size <size>', 'most bytes the relay keeps in all (default 4GiB)')
    .addHelpText('after', `
The mailbox keeps mail only for twins that subscribed to this relay, from senders whose
signature it checked. A full mailbox (or relay) makes room for a sender that holds less of it
than the heaviest sender, by deleting that sender's newest envelopes; the heaviest sender
itself is refused. Sizes take the units B, KB, KiB, MB, MiB, GB, GiB.`)
    .action(async (opts) => { await (await network()).relay(opts) })

  common(program.command('send'))
    .description('send a text message to another twin (signed, end-to-end encrypted, delivered even if it is offline now)')
    .argument('<to>', 'the twin id (or did:twin:...) of the recipient')
    .argument('<text>', 'the message')
    .option('--ttl <seconds>', 'give up after this long (default 7 days)')
    .action(async (to, text, opts) => { await (await network()).send(to, text, opts) })

  common(program.command('inbox'))
    .description('list received messages, oldest first')
    .option('--limit <n>', 'how many of the latest messages', '100')
    .action(async (opts) => { await (await network()).inbox(opts) })

  common(program.command('outbox'))
    .description('list sent messages and their status: queued, relayed, delivered, failed or expired')
    .option('--limit <n>', 'how many of the latest messages', '100')
    .action(async (opts) => { await (await network()).outbox(opts) })

  common(program.command('call'))
    .description('send a request to another twin and print its response (e.g. twin.ping, twin.describe)')
    .argument('<to>', 'the twin id of the recipient')
    .argument('<verb>', 'the verb, e.g. twin.ping')
    .argument('[json]', 'the request payload as JSON')
    .option('--timeout <ms>', 'deadline in milliseconds', '10000')
    .action(async (to, verb, json, opts) => { await (await network()).call(to, verb, json, opts) })

  common(program.command('status'))
    .description('show the running twin\'s id, peer id, addresses, relays, connections and queues')
    .action(async (opts) => { await (await network()).status(opts) })

  common(program.command('put'))
    .description('store a file (or a folder, recursively) in the vault: encrypted, erasure-coded, spread over the storage peers')
    .argument('<path>', 'the file or folder on this machine')
    .option('--as <vault-path>', 'where to store it in the vault (default /<name>)')
    .action(async (path, opts) => { await (await vault()).put(path, opts) })

  common(program.command('get'))
    .description('read a file from the vault')
    .argument('<vault-path>', 'e.g. /photos/2026/a.jpg')
    .option('-o, --output <file>', 'where to write it (- for stdout; default: the file name)')
    .option('--version <n>', 'an earlier version (see `twin versions`)')
    .action(async (path, opts) => { await (await vault()).get(path, opts) })

  common(program.command('ls'))
    .description('list the files in the vault, under a folder')
    .argument('[vault-path]', 'a folder (default /)')
    .action(async (path, opts) => { await (await vault()).ls(path, opts) })

  common(program.command('rm'))
    .description('delete a file from the vault (its earlier versions stay readable until pruned)')
    .argument('<vault-path>')
    .action(async (path, opts) => { await (await vault()).rm(path, opts) })

  common(program.command('mv'))
    .description('move a file in the vault')
    .argument('<from>')
    .argument('<to>')
    .action(async (from, to, opts) => { await (await vault()).mv(from, to, opts) })

  common(program.command('versions'))
    .description('list the versions of a file')
    .argument('<vault-path>')
    .action(async (path, opts) => { await (await vault()).versions(path, opts) })

  common(program.command('repair'))
    .description('rebuild every missing or corrupt shard now (it also runs in the background)')
    .action(async (opts) => { await (await vault()).repair(opts) })

  const storage = program.command('storage').description('the vault\'s storage peers')
  common(storage.command('add'))
    .description('use a storage node: an invite from its operator (twinnode1....), or its multiaddr (ending in /p2p/<peer id>) if it admits this twin already')
    .argument('<invite-or-multiaddr>')
    .action(async (address, opts) => { await (await vault()).storageAdd(address, opts) })
  common(storage.command('remove'))
    .description('stop using a storage peer; `twin repair` moves its shards elsewhere')
    .argument('<peer-id>')
    .action(async (id, opts) => { await (await vault()).storageRemove(id, opts) })
  common(storage.command('ls'))
    .description('list the storage peers')
    .action(async (opts) => { await (await vault()).storageLs(opts) })
  common(storage.command('status'))
    .description('peers, per-file health and the estimated durability of the vault')
    .action(async (opts) => { await (await vault()).storageStatus(opts) })

  const node = common(program.command('storage-node'))
    .description('run a storage node: keeps encrypted shards for the twins its operator admits, each under its quota')
    .enablePositionalOptions()
    .option('--dir <dir>', 'where to keep shards (default <home>/shards)')
    .option('--quota <size>', 'per twin unless given otherwise, e.g. 10GiB (default 10GiB)')
    .option('--open', 'admit every twin that asks, with that quota (a public node)')
    .option('--listen <multiaddr>', 'where to listen (repeatable; default /ip4/0.0.0.0/tcp/0)', collect)
    .option('--announce <multiaddr>', 'address to publish instead (repeatable)', collect)
    .option('--public-range <cidr>', 'treat this reserved address range as public, e.g. 100.64.0.0/10 (repeatable; for labs and private networks)', collect)
    .option('--bootstrap <multiaddr>', 'a relay to stay reachable through (repeatable); use one when the node has no fixed public address', collect)
    .action(async (opts) => { await (await storageNode()).run(opts) })
  // `storage-node --home DIR invite` means the same as `storage-node invite --home DIR`.
  const withNode = <T extends { home?: string, json?: boolean }>(opts: T): T => {
    const parent = node.opts<{ home?: string, json?: boolean }>()
    return { ...opts, home: opts.home ?? parent.home, json: opts.json ?? parent.json }
  }
  common(node.command('invite'))
    .description('print a one-time invite: the first twin that redeems it (`twin storage add TOKEN`) is admitted')
    .option('--quota <size>', 'that twin\'s quota (default: the node\'s)')
    .option('--expires <duration>', 'how long it can be redeemed, e.g. 7d, 12h, 30m (default 7d)')
    .action(async (opts) => { await (await storageNode()).invite(withNode(opts)) })
  common(node.command('allow'))
    .description('admit a twin by its id (also while the node runs)')
    .argument('<twin-id>')
    .option('--quota <size>', 'that twin\'s quota (default: the node\'s)')
    .action(async (id, opts) => { await (await storageNode()).allow(id, withNode(opts)) })
  common(node.command('deny'))
    .description('refuse a twin from its next request on (also while the node runs); its shards stay on disk')
    .argument('<twin-id>')
    .action(async (id, opts) => { await (await storageNode()).deny(id, withNode(opts)) })
  common(node.command('clients'))
    .description('the twins this node knows: quota, bytes used, how each was admitted, since when')
    .action(async (opts) => { await (await storageNode()).clients(withNode(opts)) })

  common(program.command('demo'))
    .description('start a small Twin network on this machine (relay, three twins, six storage nodes), exchange messages, store a file, and keep it running until Ctrl-C')
    .option('--keep', 'keep the temporary folder afterwards')
    .option('--exit', 'stop as soon as the walk-through is done, instead of waiting for Ctrl-C')
    .action(async (opts) => { await (await demo()).demo(opts) })

  return program
}

/** Runs the CLI and returns the exit code; the caller (bin/twin) exits with it. */
export async function main (argv: string[]): Promise<number> {
  process.umask(0o077)
  const program = buildProgram()
  const json = argv.includes('--json')
  try {
    await program.parseAsync(argv)
    // A command may report a finding (not an error) through the exit code, e.g. `verify` finding damage.
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit through here with code 0; usage errors were already printed.
      return err.exitCode === 0 ? 0 : 2
    }
    return reportError(err, json)
  }
}
