import { CID } from 'multiformats/cid'
import { describe, expect, it } from 'vitest'
import { PolicyError, evaluatePolicy, parsePolicy, parseSelector, select } from '../../src/trust/ucan/index.js'

const holds = (policy: unknown[], args: unknown): boolean => evaluatePolicy(parsePolicy(policy), args).ok
const pick = (selector: string, value: unknown) => select(parseSelector(selector, 'test'), value)

describe('selectors', () => {
  const args = {
    from: 'alice@example.com',
    to: ['bob@example.com', 'carol@not.example.com', 'dan@example.com'],
    nested: { a: { b: [10, 20] } },
    'odd key': 1,
    bytes: Uint8Array.of(0xd6, 0xa9, 0xc1, 0x8c)
  }

  it('select the identity, fields, quoted keys, indexes from either end and slices', () => {
    expect(pick('.', args)).toEqual({ found: true, value: args })
    expect(pick('.nested.a.b', args)).toEqual({ found: true, value: [10, 20] })
    expect(pick('.["odd key"]', args)).toEqual({ found: true, value: 1 })
    expect(pick('.to[1]', args)).toEqual({ found: true, value: 'carol@not.example.com' })
    expect(pick('.to.[1]', args)).toEqual({ found: true, value: 'carol@not.example.com' })
    expect(pick('.to[-1]', args)).toEqual({ found: true, value: 'dan@example.com' })
    expect(pick('.[0]', ['x'])).toEqual({ found: true, value: 'x' })
    expect(pick('.to[1:]', args)).toEqual({ found: true, value: ['carol@not.example.com', 'dan@example.com'] })
    expect(pick('.to[:-2]', args)).toEqual({ found: true, value: ['bob@example.com'] })
  })

  it('select into bytes as a list of byte values (delegation spec, "Selecting on Bytes")', () => {
    expect(pick('.bytes[3]', args)).toEqual({ found: true, value: 0x8c })
  })

  it('expand every element of a list or value of a map with [], applying the rest of the path to each', () => {
    expect(pick('.nested[]', args)).toEqual({ found: true, value: [{ b: [10, 20] }] })
    expect(pick('.nested[].b[0]', args)).toEqual({ found: true, value: [10] })
    expect(pick('.to[]', args)).toEqual({ found: true, value: args.to })
  })

  it('fail on what is not there, and give null instead when the segment is optional', () => {
    expect(pick('.to[99]', args).found).toBe(false)
    expect(pick('.to[99]?', args)).toEqual({ found: true, value: null })
    expect(pick('.to[99]???', args)).toEqual({ found: true, value: null })
    expect(pick('.missing', args)).toMatchObject({ found: false, why: '.missing is missing' })
    expect(pick('.missing?.deeper', args)).toEqual({ found: true, value: null })
    // Resolution stops at the first failing segment, even if a later one is optional.
    expect(pick('.missing.deeper?', args).found).toBe(false)
    expect(pick('.from.x', args)).toMatchObject({ found: false, why: '.from is a string, not a map, so it has no field "x"' })
  })

  it('never find what a map inherits rather than holds', () => {
    expect(pick('.constructor', {}).found).toBe(false)
    expect(pick('.__proto__', {}).found).toBe(false)
    expect(pick('.toString', args).found).toBe(false)
  })

  it('refuse malformed selectors with a PolicyError that quotes them', () => {
    for (const bad of ['', 'a', '..', '.a.', '.a..b', '.[', '.["x"', '.["x"x]', '.[01]', '.[1', '.[a]', '.a b', '.?', '.[-0]', '.1', 7]) {
      expect(() => parseSelector(bad, 'statement 0'), String(bad)).toThrow(PolicyError)
    }
    expect(() => parseSelector('.a..b', 'statement 3')).toThrow('the policy is not valid at statement 3: selector ".a..b" has "." followed by neither a field name nor "[" at position 3')
  })
})

describe('policy statements', () => {
  const katie = { name: 'Katie', age: 35, nationalities: ['Canadian', 'South African'], score: 2n ** 60n }

  it('compare numbers regardless of integer or float, including integers beyond 2^53', () => {
    expect(holds([['==', '.age', 35.0]], katie)).toBe(true)
    expect(holds([['<', '.age', 35.5]], katie)).toBe(true)
    expect(holds([['>=', '.score', 2 ** 60]], katie)).toBe(true)
    expect(holds([['>', '.score', 2 ** 60]], katie)).toBe(false)
    expect(holds([['<', '.score', 2n ** 61n]], katie)).toBe(true)
    expect(holds([['==', '.score', 2n ** 60n + 1n]], katie)).toBe(false)
  })

  it('are false, never an exception, on the wrong kind of value', () => {
    expect(holds([['<', '.name', 5]], katie)).toBe(false)
    expect(holds([['like', '.age', '*']], katie)).toBe(false)
    expect(holds([['all', '.name', ['==', '.', 'K']]], katie)).toBe(false)
    expect(holds([['==', '.nationalities', 'Canadian']], katie)).toBe(false)
  })

  it('compare deeply: lists, maps, bytes and links', () => {
    const cid = CID.parse('bafyreigyftnzjf4rcu7glp5kfop53vqlopc3zcldauoqdxqlz7t4343gr4')
    const value = { m: { a: [1, { b: Uint8Array.of(1, 2) }], l: cid } }
    expect(holds([['==', '.m', { l: CID.parse(cid.toString()), a: [1, { b: Uint8Array.of(1, 2) }] }]], value)).toBe(true)
    expect(holds([['==', '.m.a', [1, { b: Uint8Array.of(1, 3) }]]], value)).toBe(false)
    expect(holds([['==', '.m', { a: [1, { b: Uint8Array.of(1, 2) }] }]], value)).toBe(false)
  })

  it('do not pass on data that is not there: a missing selection stays false under not and !=', () => {
    expect(holds([['==', '.role', 'admin']], katie)).toBe(false)
    expect(holds([['not', ['==', '.role', 'admin']]], katie)).toBe(false)
    expect(holds([['!=', '.role', 'admin']], katie)).toBe(false)
    expect(holds([['!=', '.role?', 'admin']], katie)).toBe(true)
    expect(holds([['==', '.role?', null]], katie)).toBe(true)
    // An `or` can still be satisfied by another branch.
    expect(holds([['or', [['==', '.role', 'admin'], ['==', '.name', 'Katie']]]], katie)).toBe(true)
  })

  it('read or [] as true, any over an empty list as false and all over it as true', () => {
    expect(holds([['or', []]], {})).toBe(true)
    expect(holds([['and', []]], {})).toBe(true)
    expect(holds([['any', '.xs', ['==', '.', 1]]], { xs: [] })).toBe(false)
    expect(holds([['all', '.xs', ['==', '.', 1]]], { xs: [] })).toBe(true)
    expect(holds([['any', '.m', ['==', '.', 2]]], { m: { a: 1, b: 2 } })).toBe(true)
  })

  it('match like patterns with * and escaped \\* and \\\\', () => {
    expect(holds([['like', '.', 'a*b*c']], 'axxbyyc')).toBe(true)
    expect(holds([['like', '.', 'a*b*c']], 'acb')).toBe(false)
    expect(holds([['like', '.', '*']], '')).toBe(true)
    expect(holds([['like', '.', 'a\\*']], 'a*')).toBe(true)
    expect(holds([['like', '.', 'a\\*']], 'ab')).toBe(false)
    expect(holds([['like', '.', 'C:\\\\*']], 'C:\\dir')).toBe(true)
    expect(holds([['like', '.', '**ab**ab']], 'abab')).toBe(true)
    expect(holds([['like', '.', '*ab*ab']], 'aba')).toBe(false)
    expect(holds([['like', '.', 'ö*😀']], 'ö, 😀')).toBe(true)
  })

  it('explain a failure with the top-level statement and the reason inside it', () => {
    const result = evaluatePolicy(parsePolicy([['==', '.name', 'Katie'], ['all', '.nationalities', ['like', '.', 'C*']]]), katie)
    expect(result).toEqual({ ok: false, statement: ['all', '.nationalities', ['like', '.', 'C*']], why: 'an element of .nationalities fails: . does not match "C*"' })
  })
})

describe('policy shape', () => {
  it('is checked once, with an error that says where and what', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{}, /a policy must be a list of statements, got a map/],
      [[['==', '.a']], /at statement 0: "==" takes 2 arguments, got 1/],
      [[['<', '.a', '1']], /at statement 0: "<" compares with a number, got a string/],
      [[['and', [['==', '.a', 1], ['nope', '.a']]]], /at statement 0 > and\[1\]: unknown operator "nope"/],
      [[['like', '.a', 'x\\y']], /backslash in a "like" pattern must be followed by \* or \\/],
      [[['not', ['==', '.a', 1], 'extra']], /"not" takes 1 argument, got 2/],
      [[['any', '.a', 'x']], /at statement 0 > any: a statement must be a list/],
      [[[1, '.a', 1]], /must start with its operator as a string/]
    ]
    for (const [policy, message] of cases) expect(() => parsePolicy(policy)).toThrow(message)
  })

  it('bounds nesting depth and size, so a policy cannot cost more than its bytes suggest', () => {
    let deep: unknown = ['==', '.', 1]
    for (let i = 0; i < 40; i++) deep = ['not', deep]
    expect(() => parsePolicy([deep])).toThrow(/nest at most 32 deep/)
    expect(() => parsePolicy(Array.from({ length: 1001 }, () => ['==', '.', 1]))).toThrow(/at most 1000 statements/)
  })
})
