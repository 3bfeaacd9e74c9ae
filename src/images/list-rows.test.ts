// The listing paths of `images` against a plain model of Docker's rules (behaviour §3.2), over a
// real SQLite store: the object listing (filters, formats, library API), its rows, and the packed
// listing the default table reads must all agree.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { blobs, digestRefs, images, openDatabase, refGroups, tags } from '../metadata/index.js';
import { sha256, type Digest } from '../oci/index.js';
import { familiarName, parseReference, repositoryName } from '../reference/index.js';
import { filterImages } from './list-filter.js';
import { familiarRepository, imageRowColumns, imageRows, packedImageRows, type ImageRow, type ImageRowColumns } from './list-rows.js';

// Names chosen so that (repository, tag) order and full-reference order differ ('-' and '.' sort
// before ':'), with familiar forms of every kind.
const REPOS = [
  'docker.io/library/a',
  'docker.io/library/a-b',
  'docker.io/library/a.b',
  'docker.io/library/ab',
  'docker.io/user/app',
  'registry:5000/x/y',
  'localhost/z',
];
const TAGS = ['1', '10', '2', 'latest', 'v1.0', 'a-very-long-tag-name-that-widens-the-column'];
const DIGESTS = ['m1', 'm2', 'm3'].map((m) => sha256(m));
// Same second, same millisecond order reversed by ID, none, before 1970, far future.
const CREATED = [undefined, 1_000_000, 1_000_400, 1_000_999, 1_001_000, -5_000_500, 2_000_000_000_000];

interface ModelImage {
  id: Digest;
  created: number | undefined;
  size: number;
  parent: number | undefined;
  labels: Record<string, string>;
  tags: Array<[string, string]>;
  digests: Array<[string, string]>;
}

const storeArb = fc
  .record({
    n: fc.integer({ min: 0, max: 8 }),
    created: fc.array(fc.constantFrom(...CREATED), { minLength: 8, maxLength: 8 }),
    sizes: fc.array(fc.constantFrom(0, 999, 999_500, 1_985_474, 112_085_952), { minLength: 8, maxLength: 8 }),
    parents: fc.array(fc.option(fc.nat(7), { nil: undefined }), { minLength: 8, maxLength: 8 }),
    labels: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    // Each (repository, tag) and (repository, digest) points at one image, or none.
    tagOwners: fc.array(fc.option(fc.nat(7), { nil: undefined, freq: 2 }), { minLength: REPOS.length * TAGS.length, maxLength: REPOS.length * TAGS.length }),
    digestOwners: fc.array(fc.option(fc.nat(7), { nil: undefined, freq: 1 }), { minLength: REPOS.length * DIGESTS.length, maxLength: REPOS.length * DIGESTS.length }),
  })
  .map((g): ModelImage[] => {
    const out: ModelImage[] = [];
    for (let i = 0; i < g.n; i++) {
      const p = g.parents[i];
      out.push({
        id: sha256(`config ${i}`),
        created: g.created[i],
        size: g.sizes[i]!,
        // A parent is recorded before its child.
        parent: p !== undefined && p < i ? p : undefined,
        labels: g.labels[i] ? { tier: `t${i}` } : {},
        tags: [],
        digests: [],
      });
    }
    g.tagOwners.forEach((o, k) => {
      if (o !== undefined && o < out.length) out[o]!.tags.push([REPOS[Math.floor(k / TAGS.length)]!, TAGS[k % TAGS.length]!]);
    });
    g.digestOwners.forEach((o, k) => {
      if (o !== undefined && o < out.length) out[o]!.digests.push([REPOS[Math.floor(k / DIGESTS.length)]!, DIGESTS[k % DIGESTS.length]!]);
    });
    return out;
  });

function withStore<T>(model: ModelImage[], fn: (db: ReturnType<typeof openDatabase>) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'lading-list-rows-'));
  const db = openDatabase(join(dir, 'meta.db'));
  try {
    db.tx((tx) => {
      for (const m of model) {
        const manifest = sha256(`manifest ${m.id}`);
        blobs.put(tx, { digest: m.id, size: 1, mediaType: 'application/vnd.oci.image.config.v1+json' });
        blobs.put(tx, { digest: manifest, size: 1, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
        images.put(tx, {
          id: m.id,
          target: { digest: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1 },
          created: m.created,
          size: m.size,
          platform: { os: 'linux', architecture: 'amd64' },
          labels: m.labels,
          parentId: m.parent === undefined ? undefined : model[m.parent]!.id,
          layers: [],
          chainIds: [],
        });
      }
      // Insert references in an order unrelated to any sort.
      for (const m of [...model].reverse()) {
        for (const [r, t] of [...m.tags].reverse()) tags.set(tx, r, t, m.id);
        for (const [r, d] of [...m.digests].reverse()) digestRefs.add(tx, r, d, m.id);
      }
    });
    return fn(db);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Docker's rules written plainly over the model. */
function modelRows(model: ModelImage[], o: { digests: boolean; all: boolean }): ImageRow[] {
  const parents = new Set(model.map((m) => m.parent));
  const key = (m: ModelImage) => (m.created === undefined ? -Infinity : Math.floor(m.created / 1000));
  const sorted = model
    .map((m, i) => ({ m, i }))
    .filter(({ m, i }) => o.all || m.tags.length + m.digests.length > 0 || !parents.has(i))
    .map(({ m }) => m)
    .sort((a, b) => key(b) - key(a) || byString(a.id, b.id));
  const rows: ImageRow[] = [];
  for (const m of sorted) {
    const row = (repository: string, tag: string, digest: string) => rows.push({ repository, tag, digest, id: m.id, created: m.created, size: m.size });
    if (m.tags.length + m.digests.length === 0) {
      row('<none>', '<none>', '<none>');
      continue;
    }
    const repos = [...new Set([...m.tags, ...m.digests].map(([r]) => r))].sort(byString);
    for (const repo of repos) {
      const fam = familiarRepository(repo);
      const ts = m.tags.filter(([r]) => r === repo).map(([, t]) => t).sort(byString);
      const ds = m.digests.filter(([r]) => r === repo).map(([, d]) => d).sort(byString);
      if (ts.length === 0) {
        if (o.digests) for (const d of ds) row(fam, '<none>', d);
        else row(fam, '<none>', '');
      }
      for (const t of ts) {
        if (o.digests && ds.length > 0) for (const d of ds) row(fam, t, d);
        else row(fam, t, '<none>');
      }
    }
  }
  return rows;
}

function columnsToRows(c: ImageRowColumns): ImageRow[] {
  return c.repository.map((repository, i) => {
    const img = c.images[c.image[i]!]!;
    return { repository, tag: c.tag[i]!, digest: c.digest[i]!, id: img.id, created: img.created, size: img.size };
  });
}

test('the object listing: newest first, RepoTags and RepoDigests in full-reference order, children marked', () => {
  fc.assert(
    fc.property(storeArb, (model) =>
      withStore(model, (db) => {
        const listed = db.read((tx) => images.listForDisplay(tx));
        const expected = [...model]
          .sort((a, b) => (b.created ?? -Infinity) - (a.created ?? -Infinity) || byString(a.id, b.id))
          .map((m) => ({
            id: m.id,
            created: m.created,
            size: m.size,
            labels: m.labels,
            parentId: m.parent === undefined ? undefined : model[m.parent]!.id,
            hasChildren: model.some((c) => c.parent !== undefined && model[c.parent] === m),
            tags: m.tags.map(([repository, tag]) => ({ repository, tag })).sort((a, b) => byString(`${a.repository}:${a.tag}`, `${b.repository}:${b.tag}`)),
            digests: m.digests
              .map(([repository, digest]) => ({ repository, digest }))
              .sort((a, b) => byString(`${a.repository}@${a.digest}`, `${b.repository}@${b.digest}`)),
          }));
        assert.deepEqual(
          listed.map(({ lastUsedAt: _, ...rest }) => rest),
          expected,
        );
      }),
    ),
    { numRuns: 60 },
  );
});

test('rows: imageRows, the object columns and the packed columns all give Docker rows', () => {
  fc.assert(
    fc.property(storeArb, fc.boolean(), fc.boolean(), (model, digests, all) =>
      withStore(model, (db) => {
        const expected = modelRows(model, { digests, all });
        const listed = filterImages(
          db.read((tx) => images.listForDisplay(tx)),
          {},
          { all, now: 0, resolve: () => ({ created: undefined }) },
        );
        assert.deepEqual(imageRows(listed, { digests }), expected);
        assert.deepEqual(columnsToRows(imageRowColumns(listed, { digests })), expected);
        const packed = packedImageRows(db.read((tx) => images.listPacked(tx)), { digests, all });
        assert.deepEqual(columnsToRows(packed), expected);
        // Rows of one image are adjacent and each image of the columns has rows.
        assert.deepEqual([...new Set(packed.image)], packed.images.map((_, k) => k));
      }),
    ),
    { numRuns: 80 },
  );
});

test('packed references: groups in order, a group or a list of groups left unsorted is sorted', () => {
  assert.deepEqual(refGroups(''), []);
  assert.deepEqual(refGroups('docker.io/library/a\n1\n10\n2'), [['docker.io/library/a', '1', '10', '2']]);
  assert.deepEqual(refGroups('docker.io/library/a\n2\n1\vdocker.io/library/a-b\nz\nx'), [
    ['docker.io/library/a', '1', '2'],
    ['docker.io/library/a-b', 'x', 'z'],
  ]);
  // Groups out of repository order come back in it.
  assert.deepEqual(refGroups('docker.io/library/b\n1\vdocker.io/library/a\n2\n1'), [
    ['docker.io/library/a', '1', '2'],
    ['docker.io/library/b', '1'],
  ]);
});

test('familiar repository names: the fast path for other registries agrees with the parser', () => {
  const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)?$/);
  const host = fc.oneof(
    fc.constantFrom('docker.io', 'index.docker.io', 'localhost', 'localhost:5000', 'Docker.io', 'registry:5000', '127.0.0.1:5001', '[::1]:5000', 'host_name.io'),
    fc.tuple(component, component).map(([a, b]) => `${a}.${b}`),
  );
  const name = fc.tuple(fc.option(host, { nil: undefined }), fc.array(component, { minLength: 1, maxLength: 3 })).map(([h, p]) => (h ? `${h}/` : '') + p.join('/'));
  fc.assert(
    fc.property(name, (s) => {
      let r;
      try {
        r = parseReference(s);
      } catch {
        return; // not a name the store could hold
      }
      assert.equal(familiarRepository(repositoryName(r)), familiarName(r));
    }),
    { numRuns: 2000 },
  );
});
