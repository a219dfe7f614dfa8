import { pbkdf2Sync } from 'node:crypto'
import { generateMnemonic, validateMnemonic } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import { PhraseError } from './errors.js'

/** Number of words in a Twin recovery phrase (256 bits of entropy, BIP39). */
export const PHRASE_WORDS = 24

/** Creates a new 24-word BIP39 recovery phrase from the system's secure random source. */
export function generatePhrase (): string {
  return generateMnemonic(wordlist, 256)
}

/**
 * Normalizes and checks a phrase typed or pasted by a user: any white space between words,
 * any case. Throws a `PhraseError` that names the first unknown word, or the checksum.
 */
export function normalizePhrase (input: string): string {
  const words = input.normalize('NFKD').trim().toLowerCase().split(/\s+/).filter(w => w !== '')
  if (words.length !== PHRASE_WORDS) {
    throw new PhraseError(`a recovery phrase has ${PHRASE_WORDS} words, this one has ${words.length}`)
  }
  const known = new Set(wordlist)
  const unknown = words.findIndex(w => !known.has(w))
  if (unknown !== -1) {
    throw new PhraseError(`word ${unknown + 1} of the recovery phrase ("${words[unknown]}") is not a BIP39 English word`)
  }
  const phrase = words.join(' ')
  if (!validateMnemonic(phrase, wordlist)) {
    throw new PhraseError('the recovery phrase has a wrong checksum: a word is wrong or the words are out of order')
  }
  return phrase
}

/**
 * The BIP39 seed of a phrase (PBKDF2-HMAC-SHA512, 2048 rounds, salt "mnemonic" + passphrase),
 * computed with node:crypto. Twin uses an empty BIP39 passphrase.
 */
export function phraseToSeed (phrase: string, passphrase = ''): Uint8Array {
  const normalized = phrase.normalize('NFKD')
  return new Uint8Array(pbkdf2Sync(normalized, 'mnemonic' + passphrase.normalize('NFKD'), 2048, 64, 'sha512'))
}
