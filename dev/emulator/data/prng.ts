// Deterministic randomness for the emulator's data: the same key always yields the same stream,
// so the same export run writes the same bytes.

/** 32-bit FNV-1a over the parts, joined by a separator that cannot appear in them. */
export function hashKey(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  const text = parts.join('\u0000');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  /** A lower-case GUID with version 4 and variant bits set (koku's UUID regex requires both). */
  guid(): string;
  /** `length` upper-case letters and digits. */
  code(length: number): string;
}

/** mulberry32: a tiny, fast, seeded PRNG, uniform in [0, 1) (not for cryptography). The one copy for
 * the emulator's data and faults and for every reproducible fuzz loop in the tests. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A stream keyed by `key`: the same key always yields the same fake billing data. */
export function createRandom(...key: (string | number)[]): Random {
  const next = mulberry32(hashKey(...key));
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  const hex = (n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += int(0, 15).toString(16);
    return s;
  };
  const ALPHANUMERIC = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick: no items');
      return items[int(0, items.length - 1)] as T;
    },
    guid: () => `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[int(0, 3)]}${hex(3)}-${hex(12)}`,
    code: (length: number) => {
      let s = '';
      for (let i = 0; i < length; i++) s += ALPHANUMERIC[int(0, ALPHANUMERIC.length - 1)];
      return s;
    },
  };
}
