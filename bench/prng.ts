import { createCipheriv, createHash, type Cipher } from 'node:crypto';

/** sfc32: small, fast, seedable; the structure of the image (names, sizes, choices) comes from it. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: string) {
    const h = createHash('sha256').update(seed).digest();
    this.a = h.readUInt32LE(0);
    this.b = h.readUInt32LE(4);
    this.c = h.readUInt32LE(8);
    this.d = h.readUInt32LE(12);
    for (let i = 0; i < 16; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** Log-uniform integer in [lo, hi]: many small values, a few large, like real file sizes. */
  logInt(lo: number, hi: number): number {
    return Math.min(hi, Math.floor(Math.exp(Math.log(lo) + this.float() * (Math.log(hi) - Math.log(lo)))));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(xs: readonly T[]): T {
    const x = xs[Math.floor(this.float() * xs.length)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  }
}

/**
 * Deterministic incompressible bytes: AES-256-CTR over zeros, keyed by the seed. Far faster than a JS
 * PRNG for tens of megabytes and identical on every machine.
 */
export class RandomBytes {
  private readonly cipher: Cipher;
  private readonly zeros = Buffer.alloc(1 << 20);

  constructor(seed: string) {
    const key = createHash('sha256').update(`key:${seed}`).digest();
    const iv = createHash('sha256').update(`iv:${seed}`).digest().subarray(0, 16);
    this.cipher = createCipheriv('aes-256-ctr', key, iv);
  }

  take(n: number): Buffer {
    if (n <= this.zeros.length) return this.cipher.update(this.zeros.subarray(0, n));
    const parts: Buffer[] = [];
    for (let left = n; left > 0; left -= this.zeros.length) parts.push(this.cipher.update(this.zeros.subarray(0, Math.min(left, this.zeros.length))));
    return Buffer.concat(parts);
  }
}
