// rmi's targeted sweep against the full collection, over random stores of images sharing layer
// stacks, indexes and digest references, with parents and leases: removing one image must free
// exactly what marking the whole store would.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { blobs, collectGarbage, DEFAULT_ROOTS, digestRefs, images, leases, openDatabase, snapshots, tags, type Db } from '../metadata/index.js';
import { chainIds, sha256, type Digest } from '../oci/index.js';
import { RemovalTx, type Removal } from './remove.js';

const LAYERS = ['l0', 'l1', 'l2', 'l3', 'l4'];
const diffId = (l: string) => sha256(`diff ${l}`);
const layerBlob = (l: string) => sha256(`blob ${l}`);
const INDEXES = [sha256('index 0'), sha256('index 1')];

interface StoreSpec {
  images: Array<{ layers: string[]; parent: number | undefined; index: number | undefined; tag: boolean; digestRef: 'none' | 'manifest' | 'index' | 'other-index' }>;
  leases: Array<{ kind: 'blob' | 'snapshot'; image: number; layer: number; expired: boolean }>;
}

const specArb: fc.Arbitrary<StoreSpec> = fc.record({
  images: fc.array(
    fc.record({
      // Stacks from a small pool: shared prefixes share snapshots, shared layers share blobs.
      layers: fc.array(fc.constantFrom(...LAYERS), { minLength: 1, maxLength: 4 }),
      parent: fc.option(fc.nat(5), { nil: undefined }),
      index: fc.option(fc.nat(1), { nil: undefined }),
      tag: fc.boolean(),
      digestRef: fc.constantFrom('none' as const, 'manifest' as const, 'index' as const, 'other-index' as const),
    }),
    { minLength: 1, maxLength: 6 },
  ),
  leases: fc.array(
    fc.record({ kind: fc.constantFrom('blob' as const, 'snapshot' as const), image: fc.nat(5), layer: fc.nat(3), expired: fc.boolean() }),
    { maxLength: 3 },
  ),
});

const NOW = 1_000_000;

/** Build the store; returns image IDs. Garbage is collected first, so the store holds none. */
function build(db: Db, spec: StoreSpec): Digest[] {
  const ids: Digest[] = [];
  db.tx((tx) => {
    for (const ix of INDEXES) blobs.put(tx, { digest: ix, size: 7, mediaType: 'application/vnd.oci.image.index.v1+json' });
    spec.images.forEach((s, i) => {
      const chain = chainIds(s.layers.map(diffId));
      s.layers.forEach((l, k) => {
        blobs.put(tx, { digest: layerBlob(l), size: 100 + LAYERS.indexOf(l), mediaType: 'application/vnd.oci.image.layer.v1.tar' });
        snapshots.put(tx, { chainId: chain[k]!, parentChainId: chain[k - 1], diffId: diffId(l), size: 1000 * (k + 1) + LAYERS.indexOf(l) });
      });
      const id = sha256(`config ${i}`);
      const manifest = sha256(`manifest ${i}`);
      blobs.put(tx, { digest: id, size: 300 + i, mediaType: 'application/vnd.oci.image.config.v1+json' });
      blobs.put(tx, { digest: manifest, size: 500 + i, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
      const parent = s.parent !== undefined && s.parent < i ? ids[s.parent] : undefined;
      images.put(tx, {
        id,
        target: { digest: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 500 + i },
        platform: { os: 'linux', architecture: 'amd64' },
        parentId: parent,
        layers: s.layers.map(layerBlob),
        chainIds: chain,
        indexes: s.index === undefined ? [] : [INDEXES[s.index]!],
      });
      ids.push(id);
      if (s.tag) tags.set(tx, 'docker.io/library/app', `v${i}`, id);
      if (s.digestRef === 'manifest') digestRefs.add(tx, 'docker.io/library/app', manifest, id);
      if (s.digestRef === 'index' && s.index !== undefined) digestRefs.add(tx, `docker.io/library/app${i}`, INDEXES[s.index]!, id);
      // A digest reference alone keeps the manifest or index it names (no edge of the image).
      if (s.digestRef === 'other-index') digestRefs.add(tx, `docker.io/library/other${i}`, INDEXES[(s.index ?? 0) ^ 1]!, id);
    });
    for (const l of spec.leases) {
      const s = spec.images[l.image % spec.images.length]!;
      const layer = s.layers[l.layer % s.layers.length]!;
      const lease = leases.acquire(tx, l.expired ? 1 : 10 * NOW, 0);
      const key = l.kind === 'blob' ? layerBlob(layer) : chainIds(s.layers.map(diffId))[l.layer % s.layers.length]!;
      leases.add(tx, lease, l.kind, key);
    }
    collectGarbage(tx, NOW);
  });
  return ids;
}

/** rmi -f [--no-prune] of one image in a transaction that is rolled back; undefined on a conflict. */
function removal(db: Db, id: Digest, o: { targeted: boolean; noPrune: boolean }): Removal | undefined {
  let result: Removal | undefined;
  try {
    db.tx((tx) => {
      const rm = new RemovalTx(db, tx, DEFAULT_ROOTS);
      rm.removeByName(id, { force: true, noPrune: o.noPrune });
      result = rm.sweep({ targeted: o.targeted });
      throw new Error('roll back');
    });
  } catch (e) {
    if ((e as { code?: string }).code === 'CONFLICT') return undefined;
    if ((e as Error).message !== 'roll back') throw e;
  }
  return result;
}

test('rmi frees exactly what a full collection frees: blobs, snapshots, bytes and report lines', () => {
  fc.assert(
    fc.property(specArb, fc.nat(), fc.boolean(), (spec, pick, noPrune) => {
      const dir = mkdtempSync(join(tmpdir(), 'lading-remove-'));
      const db = openDatabase(join(dir, 'meta.db'), { clock: { now: () => NOW } });
      try {
        const ids = build(db, spec);
        const id = ids[pick % ids.length]!;
        const targeted = removal(db, id, { targeted: true, noPrune });
        const full = removal(db, id, { targeted: false, noPrune });
        assert.equal(targeted === undefined, full === undefined);
        if (targeted === undefined || full === undefined) return;
        assert.deepEqual([...targeted.gc.blobs].sort(), [...full.gc.blobs].sort());
        assert.deepEqual([...targeted.gc.snapshots].sort(), [...full.gc.snapshots].sort());
        assert.equal(targeted.gc.bytes, full.gc.bytes);
        assert.deepEqual(targeted.events, full.events);
        // Children before parents, so directories can be removed in order.
        const parentOf = new Map(db.read((tx) => tx.all<{ c: string; p: string | null }>(`SELECT chain_id AS c, parent_chain_id AS p FROM snapshots`)).map((r) => [r.c, r.p]));
        targeted.gc.snapshots.forEach((c, k) => {
          for (const later of targeted.gc.snapshots.slice(k + 1)) assert.notEqual(parentOf.get(later), c, `${later} after its parent ${c}`);
        });
      } finally {
        db.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 200 },
  );
});
