import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Descriptor, Digest } from '../oci/index.js';
import { parseReference } from '../reference/index.js';
import { buildImage, file, tarLayer } from '../testing/index.js';
import { Semaphore } from '../util/index.js';
import type { ImageStore } from './image-store.js';
import type { ProgressEvent } from './progress.js';
import { pullImage } from './pull.js';

/**
 * The pull's scheduling against a store whose downloads and unpacks the test controls: what
 * runs when is the subject here, the real store and registry are covered by the interop tests.
 */
function scriptedStore(img: ReturnType<typeof buildImage>, o: { parallelUnpack: boolean }) {
  const log: string[] = [];
  const unpacks = { running: 0, most: 0 };
  const downloads = new Map<Digest, { release: () => void; done: Promise<void> }>();
  for (const l of img.layers) {
    let release!: () => void;
    const done = new Promise<void>((r) => (release = r));
    downloads.set(l.descriptor.digest, { release, done });
  }
  const layerNo = (d: Digest) => img.layers.findIndex((l) => l.descriptor.digest === d);
  const store = {
    skipUnpack: false,
    parallelUnpack: o.parallelUnpack,
    repair: async () => {},
    acquireLease: () => 'lease',
    releaseLease: () => {},
    holdBlobs: (_: unknown, ds: Digest[]) => ds.map(() => false),
    holdSnapshots: (_: unknown, cs: Digest[]) => cs.map(() => false),
    hasSnapshot: () => false,
    hasImage: () => false,
    warmUnpack: () => {},
    downloadLimit: () => new Semaphore(3),
    remote: {
      resolve: async () => ({ descriptor: img.manifest.descriptor, bytes: img.manifest.bytes }),
    },
    fetchSmallBlob: async () => img.config.bytes,
    putSmallBlob: async () => {},
    fetchBlob: async (_l: unknown, _r: unknown, desc: Descriptor) => {
      await downloads.get(desc.digest)!.done;
      log.push(`downloaded ${layerNo(desc.digest)}`);
    },
    unpackLayer: async (_l: unknown, l: { desc: Descriptor }, uo: { beforeCommit?: () => Promise<void> }) => {
      const n = layerNo(l.desc.digest);
      log.push(`unpack ${n}`);
      unpacks.most = Math.max(unpacks.most, ++unpacks.running);
      await new Promise((r) => setTimeout(r, 5));
      unpacks.running--;
      log.push(`applied ${n}`);
      await uo.beforeCommit?.();
      log.push(`commit ${n}`);
    },
    recordPulledImage: () => true,
  };
  return { store: store as unknown as ImageStore, log, unpacks, release: (i: number) => downloads.get(img.layers[i]!.descriptor.digest)!.release() };
}

async function image(n: number) {
  return buildImage({ layers: await Promise.all(Array.from({ length: n }, (_, i) => tarLayer([file(`f${i}`, `${i}`)]))) });
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(cond(), 'condition never met');
};

describe('pull scheduling', () => {
  it('unpacks layers as their blobs arrive, two at once, and a layer waiting for its parent holds no slot', async () => {
    const img = await image(4);
    const s = scriptedStore(img, { parallelUnpack: true });
    const events: ProgressEvent[] = [];
    const pulled = pullImage(s.store, parseReference('reg.example/a/b:1'), { onProgress: (e) => events.push(e) });
    // The base layer's blob is late: the three above it unpack meanwhile, although two of them
    // must then wait for their parent's commit (with the slot held there, the third would wait).
    for (const i of [1, 2, 3]) s.release(i);
    await until(() => s.log.includes('applied 3'));
    assert.ok(!s.log.includes('downloaded 0'));
    assert.ok(!s.log.some((l) => l.startsWith('commit')), 'no commit before the parent is committed');
    s.release(0);
    const r = await pulled;
    assert.equal(r.id, img.config.descriptor.digest);
    assert.deepEqual(s.log.filter((l) => l.startsWith('commit')), ['commit 0', 'commit 1', 'commit 2', 'commit 3']);
    const completes = events.filter((e) => e.kind === 'layer' && e.action === 'complete').map((e) => (e as { id: string }).id);
    assert.deepEqual(completes, img.layers.map((l) => l.descriptor.digest.slice(7, 19)), 'Pull complete in layer order');
  });

  it('keeps at most two unpacks running', async () => {
    const img = await image(5);
    const s = scriptedStore(img, { parallelUnpack: true });
    const pulled = pullImage(s.store, parseReference('reg.example/a/b:1'));
    for (let i = 4; i >= 0; i--) s.release(i);
    await pulled;
    assert.equal(s.unpacks.most, 2);
    assert.deepEqual(s.log.filter((l) => l.startsWith('commit')), ['commit 0', 'commit 1', 'commit 2', 'commit 3', 'commit 4']);
  });

  it('unpacks strictly in layer order where layers depend on each other (native snapshots)', async () => {
    const img = await image(3);
    const s = scriptedStore(img, { parallelUnpack: false });
    const pulled = pullImage(s.store, parseReference('reg.example/a/b:1'));
    for (const i of [2, 1]) s.release(i);
    await until(() => s.log.includes('downloaded 1') && s.log.includes('downloaded 2'));
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(!s.log.some((l) => l.startsWith('unpack')), 'nothing unpacks before the base layer');
    s.release(0);
    await pulled;
    assert.deepEqual(s.log.filter((l) => l.startsWith('unpack')), ['unpack 0', 'unpack 1', 'unpack 2']);
  });
});
