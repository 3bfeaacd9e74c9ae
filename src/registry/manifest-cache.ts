import type { Digest } from '../oci/index.js';

/**
 * Manifest bytes by digest, least recently used out first, bounded by total bytes. Content is
 * immutable under its digest, so entries never go stale; deletions only drop memory.
 */
export class ManifestCache {
  private readonly entries = new Map<Digest, Buffer>();
  private bytes = 0;
  constructor(private readonly maxBytes = 32 << 20) {}

  get(d: Digest): Buffer | undefined {
    const b = this.entries.get(d);
    if (b) {
      this.entries.delete(d);
      this.entries.set(d, b);
    }
    return b;
  }

  set(d: Digest, b: Buffer): void {
    if (b.length > this.maxBytes / 8) return;
    if (this.entries.has(d)) return;
    this.entries.set(d, b);
    this.bytes += b.length;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.length;
    }
  }
}
