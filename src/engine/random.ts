// Seeded randomness, so a generated dataset or a sampling order is the same on every run with the same seed.

/** Mulberry32: a tiny 32-bit PRNG; returns floats in [0, 1). Good enough for data generation, not for crypto. */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 32-bit FNV-1a over the text; UTF-16 code units are hashed byte-wise so non-ASCII text spreads over all bits. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), 0x01000193);
    if (c > 0xff) h = Math.imul(h ^ (c >>> 8), 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's 32-bit finalizer: every input bit flips each output bit with probability about 1/2. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit hash of the parts joined with '\u0000', to derive independent seeds from names (run, iteration) and to
 * rank records for a split. FNV-1a alone changes mostly the low bits for names that differ in their last
 * character (positions 3202, 3214, 3278 ranked side by side), so ranks by it cluster; the finalizer spreads them.
 */
export function hashSeed(...parts: (string | number)[]): number {
  return fmix32(fnv1a32(parts.map(String).join('\u0000')));
}
