/** A fixed-seed generator of numbers in [0, 1) (a linear congruential one): the same run every time. */
export function seededRandom(seed: number): () => number {
  return () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}
