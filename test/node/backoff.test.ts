// The jitter's spread: full jitter must scatter clients over the whole window, not bunch them.
import { describe, expect, it } from 'vitest'
import { createEventStream } from 'use-event-stream/core'
import { backoffDelay } from '../../src/core/backoff'
import { createMockTransport } from 'use-event-stream/testing'
import { createFakePlatform } from '../helpers/fakePlatform'
// Seeded so the statistics below are reproducible.
import { mulberry32 } from '../helpers/random'

const options = { initialDelay: 1000, maxDelay: 30_000, factor: 2 }

function deciles(values: number[], cap: number): number[] {
  const buckets = new Array<number>(10).fill(0)
  for (const v of values) buckets[Math.min(9, Math.floor((v / cap) * 10))]!++
  return buckets.map((n) => n / values.length)
}

describe('backoffDelay (full jitter)', () => {
  it('caps grow by the factor per attempt up to maxDelay', () => {
    const max = (attempt: number) => backoffDelay(attempt, options, () => 0.999999)
    expect([1, 2, 3, 4, 5, 6, 7].map(max)).toEqual([999, 1999, 3999, 7999, 15_999, 29_999, 29_999])
    expect(backoffDelay(1, options, () => 0)).toBe(0)
    // Huge attempt counts neither overflow nor exceed the cap.
    expect(backoffDelay(10_000, options, () => 0.5)).toBe(15_000)
  })

  it('spreads 10k draws uniformly over [0, cap): every decile holds 10% ± 1.5%', () => {
    const random = mulberry32(42)
    const draws = Array.from({ length: 10_000 }, () => backoffDelay(3, options, random))
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...draws)).toBeLessThan(4000)
    for (const share of deciles(draws, 4000)) expect(Math.abs(share - 0.1)).toBeLessThan(0.015)
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length
    expect(Math.abs(mean - 2000)).toBeLessThan(60)
  })

  it('with a floor (retry:, Retry-After), the spread sits above the floor instead of collapsing onto it', () => {
    const random = mulberry32(7)
    const draws = Array.from({ length: 10_000 }, () => backoffDelay(1, options, random, 5000))
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(5000)
    expect(Math.max(...draws)).toBeLessThan(6000)
    for (const share of deciles(draws.map((d) => d - 5000), 1000)) expect(Math.abs(share - 0.1)).toBeLessThan(0.015)
  })

  it('1000 streams that lose their server at the same moment come back spread over the window', async () => {
    const random = mulberry32(99)
    const retryIn: number[] = []
    for (let i = 0; i < 1000; i++) {
      const clock = createFakePlatform({ random })
      const transport = createMockTransport()
      const stream = createEventStream({ url: 'http://127.0.0.1:9/s', transport, platform: clock.platform })
      stream.connect()
      await clock.advance(0)
      transport.latest!.open().fail('network')
      retryIn.push(stream.getSnapshot().retryAt! - clock.platform.now())
      stream.close()
    }
    // The busiest 100 ms of the first 1 s window holds at most twice its fair share (10%).
    const perBucket = deciles(retryIn, 1000)
    expect(Math.max(...perBucket)).toBeLessThanOrEqual(0.2)
    expect(Math.min(...perBucket)).toBeGreaterThan(0.05)
  })
})
