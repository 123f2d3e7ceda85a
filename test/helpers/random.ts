// Seeded randomness for tests and benchmarks whose statistics must be the same on every run.

/**
 * mulberry32: a small 32-bit PRNG. Not for anything secret; it is here so jitter draws repeat
 * exactly for a given `seed`. Returns numbers in [0, 1), like `Math.random`.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
