// The SDK: embed a twin in a Node program. Load 'twin/polyfill' first on Node 20 when the
// network parts are used.
export { TwinError, DecodeError } from './errors.js'
export * as identity from './identity/index.js'
export * as wire from './wire/index.js'
export * from './twin/index.js'
