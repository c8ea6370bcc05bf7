// The held-out split `star init` draws from a file: records ranked by a well-mixed hash of their position, so
// re-running init splits the same way and a file sorted by source or difficulty still gets an unbiased eval.
import { hashSeed } from './random';

/** The most records held out of one file. */
export const MAX_HELD_OUT = 500;

/** How many of `n` records are held out: a tenth, at least 1, at most MAX_HELD_OUT. */
export function heldOutCount(n: number): number {
  return Math.min(MAX_HELD_OUT, Math.max(1, Math.floor(n / 10)));
}

/** The positions (0-based, ascending) of the `count` of `n` records whose hash under `seed` ranks lowest. */
export function heldOutPositions(n: number, seed: number, count = heldOutCount(n)): number[] {
  const ranked = Array.from({ length: n }, (_, i) => ({ i, h: hashSeed(seed, 'split', i) }));
  ranked.sort((a, b) => a.h - b.h || a.i - b.i);
  return ranked.slice(0, count).map((r) => r.i).sort((a, b) => a - b);
}
