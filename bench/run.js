// Runs the benchmarks: `npm run bench` runs all, `npm run bench -- identity` one of them.
const BENCHES = {
  identity: () => import('./identity.js'),
  envelope: () => import('./envelope.js'),
  messaging: () => import('./messaging.js'),
  vault: () => import('./vault.js'),
  erasure: () => import('./erasure.js'),
  machine: () => import('./machine.js'),
  nat: () => import('./nat.js')
}

const wanted = process.argv.slice(2)
const unknown = wanted.filter(w => !(w in BENCHES))
if (unknown.length > 0) {
  console.error(`unknown benchmark: ${unknown.join(', ')} (have: ${Object.keys(BENCHES).join(', ')})`)
  process.exit(2)
}
for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHES)) {
  await (await BENCHES[name]()).run()
}
