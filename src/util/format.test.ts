import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, humanSize } from './format.js';

test('sizes match Docker for the reference table (3 and 4 significant digits)', () => {
  const rows: Array<[number, string, string]> = [
    [0, '0B', '0B'],
    [999, '999B', '999B'],
    [1000, '1kB', '1kB'],
    [999499, '999kB', '999.5kB'],
    [999500, '1e+03kB', '999.5kB'],
    [999999, '1e+03kB', '1000kB'],
    [1000000, '1MB', '1MB'],
    [1234567, '1.23MB', '1.235MB'],
    [1985474, '1.99MB', '1.985MB'],
    [9995000, '9.99MB', '9.995MB'],
    [99950000, '100MB', '99.95MB'],
    [112085952, '112MB', '112.1MB'],
    [1500000000, '1.5GB', '1.5GB'],
  ];
  for (const [bytes, three, four] of rows) {
    assert.equal(humanSize(bytes), three, `${bytes}`);
    assert.equal(humanSize(bytes, 4), four, `${bytes} (4 digits)`);
  }
});

test('durations match Docker for the reference table', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  const rows: Array<[number, string]> = [
    [500, 'Less than a second'],
    [-5 * s, 'Less than a second'],
    [1 * s, '1 second'],
    [59 * s, '59 seconds'],
    [90 * s, 'About a minute'],
    [61 * m, 'About an hour'],
    [89 * m, 'About an hour'],
    [91 * m, '2 hours'],
    [36 * h, '36 hours'],
    [47 * h, '47 hours'],
    [3 * d, '3 days'],
    [13 * d, '13 days'],
    [20 * d, '2 weeks'],
    [45 * d, '6 weeks'],
    [59 * d, '8 weeks'],
    [61 * d, '2 months'],
    [400 * d, '13 months'],
    [729 * d, '24 months'],
    [800 * d, '2 years'],
  ];
  for (const [ms, want] of rows) assert.equal(humanDuration(ms), want, `${ms} ms`);
});
