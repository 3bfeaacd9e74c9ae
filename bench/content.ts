import type { Prng, RandomBytes } from './prng.js';

/** File contents for the generated image: compressible text, ELF-like binaries, incompressible blobs. */
export class ContentGen {
  readonly words: string[];
  readonly idents: string[];

  constructor(
    private readonly rng: Prng,
    private readonly random: RandomBytes,
  ) {
    const syl = ['ba', 'co', 'de', 'fi', 'ge', 'ha', 'jo', 'ka', 'li', 'mu', 'ne', 'po', 'qu', 'ra', 'se', 'ti', 'vu', 'wa', 'xe', 'yo', 'zu', 'st', 'tr', 'ch', 'ph'];
    // Unique words, so paths built from them never collide by accident.
    const seen = new Set<string>();
    while (seen.size < 1500) {
      let w = '';
      const n = rng.int(2, 4);
      for (let j = 0; j < n; j++) w += rng.pick(syl);
      seen.add(w);
    }
    this.words = [...seen];
    this.idents = this.words.slice(0, 800).map((w, i) => (i % 3 === 0 ? w : w + rng.pick(['Handler', 'Value', 'Map', 'List', 'Options', 'State', 'Id', '_', 'Async'])));
  }

  private word(): string {
    return this.rng.pick(this.words);
  }

  private ident(): string {
    return this.rng.pick(this.idents);
  }

  /** JavaScript-like source of exactly `size` bytes (ASCII). */
  js(size: number): Buffer {
    const r = this.rng;
    const out: string[] = [];
    let len = 0;
    const push = (s: string) => {
      out.push(s);
      len += s.length;
    };
    push(`'use strict';\n`);
    while (len < size) {
      const k = r.int(0, 9);
      if (k === 0) push(`const ${this.ident()} = require('${this.word()}/${this.word()}');\n`);
      else if (k <= 3) {
        const a = this.ident();
        const b = this.ident();
        push(`function ${this.ident()}(${a}, ${b}) {\n  if (${a} == null) return ${b};\n  return ${a}.${this.ident()}(${b}, ${r.int(0, 4096)});\n}\n`);
      } else if (k <= 5) push(`// ${this.word()} ${this.word()} ${this.word()} ${this.word()} ${this.word()}\n`);
      else if (k === 6) push(`module.exports.${this.ident()} = ${this.ident()};\n`);
      else if (k === 7) push(`  ${this.ident()}.${this.ident()} = '${this.word()}-${this.word()}';\n`);
      else push(`  for (let i = 0; i < ${this.ident()}.length; i++) ${this.ident()}[i] = ${this.ident()}(i, ${r.int(0, 99)});\n`);
    }
    return Buffer.from(out.join('').slice(0, size), 'latin1');
  }

  /** Prose/config-like text of exactly `size` bytes. */
  text(size: number): Buffer {
    const r = this.rng;
    const out: string[] = [];
    let len = 0;
    while (len < size) {
      let line = r.chance(0.2) ? `${this.word()}=${this.word()}` : this.word();
      const n = r.int(2, 12);
      for (let i = 0; i < n; i++) line += ' ' + this.word();
      line += '\n';
      out.push(line);
      len += line.length;
    }
    return Buffer.from(out.join('').slice(0, size), 'latin1');
  }

  /** Already-compressed data (gz man pages, images, fonts): incompressible. */
  noise(size: number): Buffer {
    return this.random.take(size);
  }

  /**
   * ELF-like binary of exactly `size` bytes, in 4 KiB blocks: some random (code), some zero-padded or
   * repetitive (tables, padding), some symbol strings; compresses to roughly half, like real binaries.
   */
  *binary(size: number, chunk = 1 << 20): Generator<Buffer> {
    const header = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let produced = 0;
    let first = true;
    while (produced < size) {
      const n = Math.min(chunk, size - produced);
      const buf = Buffer.alloc(n);
      for (let off = 0; off < n; off += 4096) {
        const end = Math.min(n, off + 4096);
        const k = this.rng.float();
        if (k < 0.45) this.random.take(end - off).copy(buf, off);
        else if (k < 0.65) {
          const pat = this.random.take(this.rng.int(4, 64));
          for (let i = off; i < end; i += pat.length) pat.copy(buf, i, 0, Math.min(pat.length, end - i));
        } else if (k < 0.85) {
          let s = '';
          while (s.length < end - off) s += `${this.ident()}@@GLIBC_2.${this.rng.int(2, 34)}\0`;
          buf.write(s.slice(0, end - off), off, 'latin1');
        } // else: zeros (section padding)
      }
      if (first) {
        header.copy(buf, 0, 0, Math.min(header.length, n));
        first = false;
      }
      produced += n;
      yield buf;
    }
  }

  /** Half random, half repetitive, alternating 1 MiB blocks: a large data file (model, database). */
  *bigData(size: number): Generator<Buffer> {
    const block = 1 << 20;
    const rec = Buffer.from(`record;${this.word()};${this.word()};0000000000;${this.word()}\n`);
    const rep = Buffer.alloc(block);
    for (let i = 0; i < block; i += rec.length) rec.copy(rep, i, 0, Math.min(rec.length, block - i));
    let produced = 0;
    let i = 0;
    while (produced < size) {
      const n = Math.min(block, size - produced);
      if (i % 2 === 0) yield this.random.take(n);
      else {
        // A fresh copy with a varying counter so the data is repetitive but not one repeated MiB.
        const b = Buffer.from(rep.subarray(0, n));
        b.write(String(i).padStart(10, '0'), 0, 'latin1');
        yield b;
      }
      produced += n;
      i++;
    }
  }
}
