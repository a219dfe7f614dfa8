import { describe, expect, it } from 'vitest'
import { dialOrder, parsePublicRanges, shareableAddresses } from '../../src/net/links.js'
import { punchTarget } from '../../src/net/punch.js'

const P = '/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'

describe('addresses to give another machine', () => {
  it('puts public before private, drops loopback when there is anything else, and puts circuits last', () => {
    const got = shareableAddresses([
      `/ip4/127.0.0.1/tcp/4001${P}`,
      `/ip4/1.2.3.4/tcp/9${P}/p2p-circuit${P}`,
      `/ip4/192.168.1.5/tcp/4001${P}`,
      `/ip6/::1/tcp/4001${P}`,
      `/ip4/203.0.113.7/tcp/4001${P}`,
      `/ip4/10.0.0.2/tcp/4001${P}`
    ])
    expect(got).toEqual([
      `/ip4/203.0.113.7/tcp/4001${P}`,
      `/ip4/192.168.1.5/tcp/4001${P}`,
      `/ip4/10.0.0.2/tcp/4001${P}`,
      `/ip4/1.2.3.4/tcp/9${P}/p2p-circuit${P}`
    ])
  })

  it('keeps loopback when it is the only direct address (a relay listening on loopback alone)', () => {
    expect(shareableAddresses([`/ip4/1.2.3.4/tcp/9${P}/p2p-circuit${P}`, `/ip4/127.0.0.1/tcp/4001${P}`]))
      .toEqual([`/ip4/127.0.0.1/tcp/4001${P}`, `/ip4/1.2.3.4/tcp/9${P}/p2p-circuit${P}`])
  })
})

describe('reserved ranges declared public (--public-range)', () => {
  it('ranks an address in a declared range with the public ones, and leaves the rest of the reserved space private', () => {
    const got = shareableAddresses([`/ip4/192.168.1.5/tcp/1${P}`, `/ip4/100.64.3.2/tcp/1${P}`, `/ip4/100.65.0.1/tcp/1${P}`], ['100.64.0.0/16'])
    expect(got).toEqual([`/ip4/100.64.3.2/tcp/1${P}`, `/ip4/192.168.1.5/tcp/1${P}`, `/ip4/100.65.0.1/tcp/1${P}`])
    expect(shareableAddresses([`/ip4/192.168.1.5/tcp/1${P}`, `/ip6/fd00::5/tcp/1${P}`], ['fd00::/8'])[0]).toBe(`/ip6/fd00::5/tcp/1${P}`)
  })

  it('refuses what is not a range, naming it', () => {
    for (const bad of ['100.64.0.0', '100.64.0.0/33', 'fd00::/129', 'example.com/8', '']) {
      expect(() => parsePublicRanges([bad])).toThrow(new RegExp(`"${bad.replace(/[./]/g, '\\$&')}" is not an address range`))
    }
  })
})

describe('the order in which a peer\'s addresses are dialed', () => {
  const sorted = (addrs: string[], ranges: string[] = []): string[] => addrs.map(a => ({ multiaddr: { toString: () => a } })).sort(dialOrder(ranges)).map(a => a.multiaddr.toString())

  it('tries public addresses, then circuits, then private ones, then loopback', () => {
    expect(sorted([
      `/ip4/127.0.0.1/tcp/1${P}`,
      `/ip4/192.168.1.5/tcp/1${P}`,
      `/ip4/1.2.3.4/tcp/9${P}/p2p-circuit${P}`,
      `/ip4/203.0.113.7/tcp/1${P}`
    ])).toEqual([
      `/ip4/203.0.113.7/tcp/1${P}`,
      `/ip4/1.2.3.4/tcp/9${P}/p2p-circuit${P}`,
      `/ip4/192.168.1.5/tcp/1${P}`,
      `/ip4/127.0.0.1/tcp/1${P}`
    ])
  })

  it('puts an address of a declared public range before the circuit', () => {
    const circuit = `/ip4/100.64.0.2/tcp/4001${P}/p2p-circuit${P}`
    expect(sorted([circuit, `/ip4/100.64.1.2/tcp/1${P}`])).toEqual([circuit, `/ip4/100.64.1.2/tcp/1${P}`])
    expect(sorted([circuit, `/ip4/100.64.1.2/tcp/1${P}`], ['100.64.0.0/16'])).toEqual([`/ip4/100.64.1.2/tcp/1${P}`, circuit])
  })
})

describe('where a hole punch may go', () => {
  it('takes the first public address a peer offered', () => {
    expect(punchTarget(['192.168.1.2:4001', '203.0.113.9:38151', '198.51.100.1:1024'])).toEqual({ host: '203.0.113.9', port: 38151 })
    expect(punchTarget(['[2001:db8::1]:4001'])).toEqual({ host: '2001:db8::1', port: 4001 })
    expect(punchTarget(['100.64.2.2:5000'], ['100.64.0.0/16'])).toEqual({ host: '100.64.2.2', port: 5000 })
    expect(punchTarget(['[::ffff:203.0.113.9]:4001'])).toEqual({ host: '::ffff:203.0.113.9', port: 4001 })
  })

  it('never knocks on loopback, private, unspecified, multicast or reserved addresses, or on a port below 1024, or takes a malformed one', () => {
    for (const offer of [
      ['127.0.0.1:22'], ['10.0.0.5:445'], ['192.168.1.1:80'], ['[::1]:22'], ['[fd00::1]:22'], ['0.0.0.0:80'], ['0.1.2.3:80'],
      ['169.254.169.254:80'], ['100.64.2.2:5000'], ['224.0.0.1:80'], ['255.255.255.255:80'], ['[ff02::1]:80'],
      // IPv4 written as IPv6: the mapped and NAT64 forms, in dotted and in hexadecimal form
      ['[::ffff:127.0.0.1]:22'], ['[::ffff:192.168.1.1]:80'], ['[::ffff:a9fe:a9fe]:80'], ['[64:ff9b::10.0.0.1]:80'],
      ['203.0.113.9:0'], ['203.0.113.9:22'], ['203.0.113.9:70000'], ['example.com:80'], ['203.0.113.9']
    ]) {
      expect(() => punchTarget(offer)).toThrow(/no public address to punch to/)
    }
  })
})
