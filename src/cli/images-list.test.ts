import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { shortId, type Digest } from '../oci/index.js';
import { humanDuration, humanSize } from '../util/index.js';
import { writeImageTable } from './images-list.js';
import { renderTable } from './table.js';

type Columns = Parameters<typeof writeImageTable>[1];

const NOW = Date.parse('2026-01-01T00:00:00Z');
const hex = (n: number) => n.toString(16).padStart(64, '0');

const columnsArb = fc
  .array(
    fc.record({
      created: fc.option(fc.integer({ min: -1e12, max: NOW + 1e6 }), { nil: undefined }),
      size: fc.constantFrom(0, 999, 999_500, 1_985_474, 112_085_952),
      rows: fc.array(
        fc.tuple(
          fc.constantFrom('<none>', 'a', 'a-b', 'user/app', 'registry:5000/a/very/long/repository/name'),
          fc.constantFrom('<none>', '1', 'latest', 'x'.repeat(40)),
          fc.constantFrom('<none>', '', `sha256:${hex(7)}`),
        ),
        { minLength: 1, maxLength: 4 },
      ),
    }),
    { maxLength: 12 },
  )
  .map((imgs): Columns => {
    const c = { repository: [] as string[], tag: [] as string[], digest: [] as string[], image: [] as number[], images: [] as Array<{ id: Digest; created: number | undefined; size: number }> };
    imgs.forEach((img, k) => {
      c.images.push({ id: `sha256:${hex(k * 7919 + 1)}` as Digest, created: img.created, size: img.size });
      for (const [r, t, d] of img.rows) {
        c.repository.push(r);
        c.tag.push(t);
        c.digest.push(d);
        c.image.push(k);
      }
    });
    return { ...c, length: c.image.length };
  });

/** The same table through the general tabwriter, a cell array per row. */
function expected(c: Columns, o: { digests: boolean; trunc: boolean }): string {
  const header = ['REPOSITORY', 'TAG', ...(o.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
  const rows = c.repository.map((repository, i) => {
    const img = c.images[c.image[i]!]!;
    return [
      repository,
      c.tag[i]!,
      ...(o.digests ? [c.digest[i]!] : []),
      o.trunc ? shortId(img.id) : img.id,
      img.created === undefined ? 'N/A' : `${humanDuration(NOW - img.created)} ago`,
      humanSize(img.size),
    ];
  });
  return renderTable([header, ...rows]);
}

function written(c: Columns, o: { digests: boolean; trunc: boolean }): { text: string; writes: number } {
  let text = '';
  let writes = 0;
  writeImageTable({ write: (s) => void ((text += s), writes++) }, c, { digests: o.digests, id: (d) => (o.trunc ? shortId(d) : d), now: NOW });
  return { text, writes };
}

test('the images table is laid out exactly as the tabwriter lays out the same cells', () => {
  fc.assert(
    fc.property(columnsArb, fc.boolean(), fc.boolean(), (c, digests, trunc) => {
      assert.equal(written(c, { digests, trunc }).text, expected(c, { digests, trunc }));
    }),
    { numRuns: 300 },
  );
});

test('a large table is written in several chunks with the same text', () => {
  const n = 6000;
  const c: Columns = {
    length: n,
    repository: Array.from({ length: n }, (_, i) => `registry.example.com/team${i % 97}/app`),
    tag: Array.from({ length: n }, (_, i) => `v${i}-${'x'.repeat(i % 13)}`),
    digest: Array.from({ length: n }, () => '<none>'),
    image: Array.from({ length: n }, (_, i) => Math.floor(i / 5)),
    images: Array.from({ length: n / 5 }, (_, k) => ({ id: `sha256:${hex(k + 1)}` as Digest, created: NOW - k * 3_600_000, size: k * 1000 })),
  };
  const w = written(c, { digests: false, trunc: true });
  assert.ok(w.writes > 1, `${w.writes} writes`);
  assert.equal(w.text, expected(c, { digests: false, trunc: true }));
});
