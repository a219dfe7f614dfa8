// `twin id` wall time (median of 10 after one warm-up), against bare `node` start-up as the
// baseline measured in the same run. Goal (issue 2): median under 300 ms on this machine.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { goal, median, printTable, quantile, timeCommand, TWIN, writeResults } from './lib.js'

const RUNS = 10
const GOAL_MS = 300

export function run () {
  const dir = mkdtempSync(join(tmpdir(), 'twin-bench-id-'))
  try {
    const home = join(dir, 'alice')
    timeCommand(process.execPath, [TWIN, 'init', '--home', home, '--name', 'Alice'])
    const series = {
      'node -e ""  (baseline)': [process.execPath, ['-e', '']],
      'twin --version': [process.execPath, [TWIN, '--version']],
      'twin id': [process.execPath, [TWIN, 'id', '--home', home]],
      'twin id --json': [process.execPath, [TWIN, 'id', '--home', home, '--json']]
    }
    const rows = []
    const out = {}
    let baseline
    for (const [name, [cmd, args]] of Object.entries(series)) {
      timeCommand(cmd, args) // warm the file cache
      const times = Array.from({ length: RUNS }, () => timeCommand(cmd, args))
      const med = median(times)
      baseline ??= med
      out[name] = { runs: RUNS, medianMs: med, p90Ms: quantile(times, 0.9), minMs: Math.min(...times), times }
      rows.push({ command: name, 'median ms': med.toFixed(1), 'p90 ms': quantile(times, 0.9).toFixed(1), 'min ms': Math.min(...times).toFixed(1), 'x node': (med / baseline).toFixed(2) })
    }
    const idMedian = out['twin id'].medianMs
    printTable(`twin id start-up (median of ${RUNS}; goal < ${GOAL_MS} ms)`, rows)
    const g = goal({ what: 'twin id, median ms (bare node start-up)', baseline: baseline.toFixed(1), twin: idMedian.toFixed(1), value: idMedian, atMost: GOAL_MS, unit: ' ms' })
    printTable('identity goal', [{ ...g.row, ratio: `${(idMedian / baseline).toFixed(2)}x` }])
    writeResults('identity', { goalMs: GOAL_MS, met: idMedian < GOAL_MS, series: out })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
