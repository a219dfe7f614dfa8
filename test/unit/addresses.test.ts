import { describe, expect, it } from 'vitest'
import { shareableAddresses } from '../../src/net/links.js'

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
