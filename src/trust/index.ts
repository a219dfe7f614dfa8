// The trust part's public surface: UCAN capabilities (src/trust/ucan). Contacts are planned.
export * from './ucan/index.js'
