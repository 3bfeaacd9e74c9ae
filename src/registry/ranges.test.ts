import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseContentRange, parseRangeHeader, uploadRange } from './ranges.js';

test('Range header on a blob', () => {
  assert.equal(parseRangeHeader(undefined, 10), undefined);
  assert.deepEqual(parseRangeHeader('bytes=0-4', 10), { start: 0, end: 5 });
  assert.deepEqual(parseRangeHeader('bytes=5-', 10), { start: 5, end: 10 });
  assert.deepEqual(parseRangeHeader('bytes=-3', 10), { start: 7, end: 10 });
  assert.deepEqual(parseRangeHeader('bytes=8-100', 10), { start: 8, end: 10 });
  assert.equal(parseRangeHeader('bytes=10-', 10), 'unsatisfiable');
  assert.equal(parseRangeHeader('bytes=5-2', 10), 'unsatisfiable');
  assert.equal(parseRangeHeader('bytes=0-1,3-4', 10), undefined, 'multiple ranges are ignored');
  assert.equal(parseRangeHeader('items=0-1', 10), undefined);
});

test('Range header: any satisfiable range lies inside the blob', () => {
  fc.assert(
    fc.property(fc.nat(1000), fc.nat(2000), fc.option(fc.nat(2000)), (size, a, b) => {
      const r = parseRangeHeader(`bytes=${a}-${b ?? ''}`, size);
      if (r === undefined || r === 'unsatisfiable') return a >= size || (b !== null && b < a);
      return r.start === a && r.end <= size && r.end > r.start;
    }),
  );
});

test('Content-Range on a chunk', () => {
  assert.deepEqual(parseContentRange('0-99'), { start: 0, end: 99 });
  assert.deepEqual(parseContentRange('bytes 100-199/*'), { start: 100, end: 199 });
  assert.deepEqual(parseContentRange('bytes=100-199'), { start: 100, end: 199 });
  assert.equal(parseContentRange('5-4'), undefined);
  assert.equal(parseContentRange('abc'), undefined);
  fc.assert(
    fc.property(fc.nat(), fc.nat(), (a, n) => {
      const r = parseContentRange(`${a}-${a + n}`);
      return r?.start === a && r.end === a + n;
    }),
  );
  assert.equal(uploadRange(0), '0-0');
  assert.equal(uploadRange(10), '0-9');
});
