import { deriveGeneration, publicKeysOf, type GenerationSecrets } from './keys.js'
import { createInception, createRotation, verifyKel, type KelState, type SignedKeyEvent } from './kel.js'
import { phraseToSeed } from './phrase.js'
import { KelError } from './errors.js'

/** The result of deriving an identity from a phrase. */
export interface NewIdentity {
  state: KelState
  events: SignedKeyEvent[]
  /** The secrets of the current generation: what the running twin keeps. */
  current: GenerationSecrets
}

/** Derives the inception of the twin whose recovery phrase is `phrase` (already normalized). */
export function createIdentity (phrase: string): NewIdentity {
  const seed = phraseToSeed(phrase)
  const gen0 = deriveGeneration(seed, 0)
  const gen1 = deriveGeneration(seed, 1)
  const events = [createInception(gen0, publicKeysOf(gen1))]
  seed.fill(0)
  return { state: verifyKel(events), events, current: gen0 }
}

/**
 * Rebuilds a twin from its phrase. With the twin's key event log the keys of its latest
 * generation are derived and checked against the log; without it the result is the
 * inception state, which `stale` reports as possibly behind.
 */
export function restoreIdentity (phrase: string, knownEvents?: SignedKeyEvent[]): NewIdentity {
  const base = createIdentity(phrase)
  if (knownEvents === undefined) return base
  const state = verifyKel(knownEvents)
  if (state.id !== base.state.id) {
    throw new KelError(`the key event log is for twin ${state.id}, but this recovery phrase is for twin ${base.state.id}`)
  }
  const seed = phraseToSeed(phrase)
  const current = deriveGeneration(seed, state.sequence)
  seed.fill(0)
  return { state, events: knownEvents, current }
}

/**
 * Rotates to the next key generation: the phrase derives the keys the log committed to
 * (which sign the rotation) and the generation after them (which the rotation commits to).
 */
export function rotateIdentity (phrase: string, events: SignedKeyEvent[]): NewIdentity {
  const state = verifyKel(events)
  const seed = phraseToSeed(phrase)
  const revealed = deriveGeneration(seed, state.sequence + 1)
  const next = deriveGeneration(seed, state.sequence + 2)
  seed.fill(0)
  const rotation = createRotation(state, revealed, publicKeysOf(next))
  const all = [...events, rotation]
  return { state: verifyKel(all), events: all, current: revealed }
}
