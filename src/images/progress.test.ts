import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { throttledProgress } from './progress.js';

it('throttledProgress passes the first and last reports and one per 1 % (at most 512 KiB) between', () => {
  const seen: number[] = [];
  const p = throttledProgress((c) => seen.push(c));
  const total = 1000;
  for (let c = 0; c <= total; c += 3) p(c, total);
  p(total, total);
  assert.equal(seen[0], 0);
  assert.equal(seen.at(-1), total);
  for (let i = 1; i < seen.length - 1; i++) assert.ok(seen[i]! - seen[i - 1]! >= 10, `${seen[i - 1]} -> ${seen[i]}`);
  assert.ok(seen.length <= 102);

  const big: number[] = [];
  const q = throttledProgress((c) => big.push(c));
  const size = 100 * 1024 * 1024;
  for (let c = 64 * 1024; c <= size; c += 64 * 1024) q(c, size);
  // 1 % would be 1 MiB: the 512 KiB cap wins.
  assert.equal(big[1]! - big[0]!, 512 * 1024);
  assert.equal(big.at(-1), size);
});
