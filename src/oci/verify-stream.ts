import { Transform, type TransformCallback } from 'node:stream';
import { LadingError } from '../errors/index.js';
import { digestAlgorithm, hashDigest, newHasher, type Digest } from './digest.js';

/**
 * Hashes while passing bytes through, fails as soon as more than `size` bytes arrive, and
 * compares size and digest in flush(): a consumer never sees a clean end of bad data.
 * `offset`/`resumeHash` let a resumed read continue a hash started earlier.
 */
export class VerifyingStream extends Transform {
  private count: number;
  private readonly hash;
  constructor(
    private readonly expected: { digest: Digest; size?: number },
    o: { offset?: number; hash?: ReturnType<typeof newHasher> } = {},
  ) {
    super();
    this.count = o.offset ?? 0;
    this.hash = o.hash ?? newHasher(expected.digest);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    if (this.expected.size !== undefined && this.count > this.expected.size) {
      cb(new LadingError('SIZE_MISMATCH', `size mismatch for ${this.expected.digest}: more than the expected ${this.expected.size} bytes`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.expected.size !== undefined && this.count !== this.expected.size) {
      cb(new LadingError('SIZE_MISMATCH', `size mismatch for ${this.expected.digest}: got ${this.count} bytes, expected ${this.expected.size}`));
      return;
    }
    const got = hashDigest(digestAlgorithm(this.expected.digest), this.hash);
    if (got !== this.expected.digest) {
      cb(new LadingError('DIGEST_MISMATCH', `digest mismatch: expected ${this.expected.digest}, got ${got}`, { detail: { expected: this.expected.digest, found: got } }));
      return;
    }
    cb();
  }
}
