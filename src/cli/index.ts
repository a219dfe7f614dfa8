// The CLI's entry point: bin/twin calls main(argv) and exits with what it returns.
export { main } from './main.js'
