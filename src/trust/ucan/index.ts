/**
 * UCAN 1.0 capabilities for Twin: delegation and invocation envelopes (DAG-CBOR, varsig,
 * Ed25519), did:key and did:twin principals, the policy language, validation of an
 * invocation against its proof chain, the narrowing check for re-delegation, and a cache of
 * verified delegations. See docs/PROTOCOL.md, "Capabilities (UCAN 1.0)".
 */
export { UcanError, PolicyError, UCAN_ERRORS, DENIAL_REASONS, type DenialReason, type Denial, type TokenRef } from './errors.js'
export { tokenCid, parseTokenCid, cidText, isTokenCid } from './cid.js'
export { ED25519_DAG_CBOR_HEADER } from './varsig.js'
export { DELEGATION_TAG, INVOCATION_TAG, MAX_TOKEN_BYTES } from './envelope.js'
export { parsePrincipal, checkDid, type Principal } from './did.js'
export { keySigner, twinSigner, type Signer } from './signer.js'
export { checkCommand, commandCovers } from './command.js'
export { parseSelector, select, type Selector, type Selection } from './selector.js'
export { parsePolicy, type Policy, type Statement } from './policy.js'
export { evaluatePolicy, type PolicyResult } from './evaluate.js'
export { createDelegation, decodeDelegation, type Delegation, type DelegationPayload, type DelegationOptions } from './delegation.js'
export { createInvocation, decodeInvocation, MAX_PROOFS, type Invocation, type InvocationPayload, type InvocationOptions } from './invocation.js'
export { twinKeysFromKel, type TwinKeys, type TwinResolver } from './issuer.js'
export { UcanCache, type UcanCacheOptions } from './cache.js'
export { MemoryReplayGuard, type ReplayGuard, type InvocationUse, type MemoryReplayGuardOptions } from './replay.js'
export { checkNarrowing, pathPolicy, isNormalizedPath, PATH_SELECTOR, type NarrowingOptions } from './narrowing.js'
export { validateInvocation, type ValidationOptions, type Validation, type Authorization } from './validate.js'
