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

/** 32-bit FNV-1a over the parts joined with '\u0000', to derive independent seeds from names (e.g. run, iteration). */
export function hashSeed(...parts: (string | number)[]): number {
  const text = parts.map(String).join('\u0000');
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    // Hash UTF-16 code units byte-wise so non-ASCII names still spread over all bits.
    const c = text.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), 0x01000193);
    if (c > 0xff) h = Math.imul(h ^ (c >>> 8), 0x01000193);
  }
  return h >>> 0;
}
