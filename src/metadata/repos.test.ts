import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import fc from 'fast-check';
import { isCode } from '../errors/index.js';
import { chainIds, sha256, type Digest } from '../oci/index.js';
import {
  blobs,
  collectGarbage,
  digestRefs,
  imageRemovalPlan,
  images,
  indexes,
  isLive,
  leases,
  openDatabase,
  resolveImage,
  snapshots,
  tags,
  type Db,
  type ParsedName,
  type Tx,
} from './index.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const BB = 'docker.io/library/busybox';

let dir: string;
let db: Db;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lading-metadata-repos-'));
  db = openDatabase(join(dir, 'meta.db'), { clock: { now: () => 1_000 } });
});
afterEach(async () => {
  db.close();
  await rm(dir, { recursive: true, force: true });
});

const id64 = (hexPrefix: string, fill = '0') => `sha256:${hexPrefix.padEnd(64, fill)}` as Digest;
const layerBlob = (l: string) => sha256(`layer:${l}`);
const diffId = (l: string) => sha256(`diff:${l}`);
const layerSize = (l: string) => 1000 * l.length;

/** Record what a pull records: blobs, snapshots by chain ID, then the image. Returns the image ID. */
function addImage(
  tx: Tx,
  name: string,
  layers: string[],
  o: { id?: Digest; created?: number; parentId?: Digest; index?: Digest } = {},
): Digest {
  const id = o.id ?? sha256(`config:${name}`);
  const manifest = sha256(`manifest:${name}`);
  const chain = chainIds(layers.map(diffId));
  layers.forEach((l, i) => {
    blobs.put(tx, { digest: layerBlob(l), size: 100 + i, mediaType: OCI_LAYER });
    snapshots.put(tx, { chainId: chain[i]!, parentChainId: chain[i - 1], diffId: diffId(l), size: layerSize(l) });
  });
  blobs.put(tx, { digest: id, size: 300, mediaType: OCI_CONFIG });
  blobs.put(tx, { digest: manifest, size: 500, mediaType: OCI_MANIFEST, source: { registry: 'docker.io', repository: 'library/x' } });
  images.put(tx, {
    id,
    target: { digest: manifest, mediaType: OCI_MANIFEST, size: 500 },
    created: o.created,
    platform: { os: 'linux', architecture: 'amd64' },
    labels: { name },
    parentId: o.parentId,
    layers: layers.map(layerBlob),
    chainIds: chain,
    ...(o.index ? { indexes: [o.index] } : {}),
  });
  return id;
}

/** A small stand-in for reference/'s parser: docker.io and library/ defaults, default tag latest. */
function parseRef(s: string): ParsedName | undefined {
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  if (!/^[a-z0-9][a-z0-9._:/-]*$/.test(rest)) return undefined;
  let repository = rest.includes('/') ? rest : `library/${rest}`;
  const first = repository.slice(0, repository.indexOf('/'));
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost') repository = `docker.io/${repository}`;
  return { repository, tag: tag ?? (digest ? undefined : 'latest'), digest };
}

describe('images', () => {
  test('put and find round-trip; size defaults to the snapshot sum; edges in order', () => {
    const id = db.tx((tx) => addImage(tx, 'a', ['l1', 'l22'], { created: 5_000 }));
    const img = db.read((tx) => images.find(tx, id))!;
    assert.deepEqual(img, {
      id,
      target: { digest: sha256('manifest:a'), mediaType: OCI_MANIFEST, size: 500 },
      created: 5_000,
      size: 2000 + 3000,
      platform: { os: 'linux', architecture: 'amd64' },
      labels: { name: 'a' },
      addedAt: 1_000,
      lastUsedAt: undefined,
      lastTagTime: undefined,
      parentId: undefined,
      topChainId: chainIds([diffId('l1'), diffId('l22')])[1],
    });
    assert.deepEqual(db.read((tx) => images.blobs(tx, id)), [
      { role: 'manifest', position: 0, digest: sha256('manifest:a') },
      { role: 'config', position: 0, digest: id },
      { role: 'layer', position: 0, digest: layerBlob('l1') },
      { role: 'layer', position: 1, digest: layerBlob('l22') },
    ]);
    assert.deepEqual(
      db.read((tx) => snapshots.forImage(tx, id)).map((s) => [s.chainId, s.parentChainId ?? null, s.size]),
      [
        [diffId('l1'), null, 2000],
        [chainIds([diffId('l1'), diffId('l22')])[1], diffId('l1'), 3000],
      ],
    );
    assert.deepEqual(db.read((tx) => blobs.sources(tx, sha256('manifest:a'))), [
      { registry: 'docker.io', repository: 'library/x', seenAt: 1_000 },
    ]);
    assert.equal(db.read((tx) => images.findByTarget(tx, sha256('manifest:a')))?.id, id);
  });

  test('put again keeps added_at and last times, merges index edges', () => {
    const ix = sha256('index');
    const id = db.tx((tx) => {
      indexes.put(tx, { digest: ix, mediaType: OCI_INDEX, size: 700, children: [] });
      return addImage(tx, 'a', ['l1'], { index: ix });
    });
    db.tx((tx) => {
      images.touch(tx, id, 2_000);
      images.setLastTagTime(tx, id, 3_000);
    });
    db.tx((tx) =>
      images.put(
        tx,
        {
          id,
          target: { digest: sha256('manifest:a'), mediaType: OCI_MANIFEST, size: 500 },
          platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
          layers: [layerBlob('l1')],
          chainIds: [diffId('l1')],
          size: 42,
        },
        9_000,
      ),
    );
    const img = db.read((tx) => images.find(tx, id))!;
    assert.deepEqual(
      [img.addedAt, img.lastUsedAt, img.lastTagTime, img.size, img.platform, img.created, img.labels],
      [1_000, 2_000, 3_000, 42, { os: 'linux', architecture: 'arm64', variant: 'v8' }, undefined, {}],
    );
    assert.deepEqual(
      db.read((tx) => images.blobs(tx, id)).filter((e) => e.role === 'index'),
      [{ role: 'index', position: 0, digest: ix }],
    );
  });

  test('list: newest first, no-created last, tags and digests in lexical full-reference order', () => {
    const [old, mid, none] = db.tx((tx) => [
      addImage(tx, 'old', ['l1'], { created: 1 }),
      addImage(tx, 'mid', ['l2'], { created: 2 }),
      addImage(tx, 'none', ['l3']),
    ]);
    db.tx((tx) => {
      tags.set(tx, 'docker.io/library/a', 'x', mid);
      tags.set(tx, 'docker.io/library/a-b', 'x', mid);
      tags.set(tx, 'docker.io/library/a', 'b', mid);
      digestRefs.add(tx, 'docker.io/library/a', sha256('manifest:mid'), mid);
    });
    const list = db.read((tx) => images.list(tx));
    assert.deepEqual(
      list.map((i) => i.id),
      [mid, old, none],
    );
    // "a-b:x" < "a:b" < "a:x" as strings ('-' sorts before ':'), as Docker's RepoTags.
    assert.deepEqual(list[0]!.repoTags, [
      { repository: 'docker.io/library/a-b', tag: 'x' },
      { repository: 'docker.io/library/a', tag: 'b' },
      { repository: 'docker.io/library/a', tag: 'x' },
    ]);
    assert.deepEqual(list[0]!.repoDigests, [{ repository: 'docker.io/library/a', digest: sha256('manifest:mid') }]);
    assert.deepEqual([list[1]!.repoTags, list[1]!.repoDigests], [[], []]);
  });

  test('findByIdPrefix: unique prefix with or without sha256:, ambiguous or non-hex is undefined', () => {
    db.tx((tx) => {
      addImage(tx, 'a', ['l1'], { id: id64('abc1') });
      addImage(tx, 'b', ['l2'], { id: id64('abc2') });
      addImage(tx, 'c', ['l3'], { id: id64('f') });
    });
    db.read((tx) => {
      assert.equal(images.findByIdPrefix(tx, 'abc1')?.id, id64('abc1'));
      assert.equal(images.findByIdPrefix(tx, 'sha256:abc2')?.id, id64('abc2'));
      assert.equal(images.findByIdPrefix(tx, 'f')?.id, id64('f'));
      assert.equal(images.findByIdPrefix(tx, 'abc'), undefined);
      assert.equal(images.findByIdPrefix(tx, 'ABC1'), undefined);
      assert.equal(images.findByIdPrefix(tx, ''), undefined);
      assert.equal(images.findByIdPrefix(tx, 'sha256:'), undefined);
      assert.equal(images.findByIdPrefix(tx, 'e'), undefined);
    });
  });

  test('remove returns the references it dropped; children lose their parent', () => {
    const [parent, child] = db.tx((tx) => {
      const p = addImage(tx, 'p', ['l1']);
      return [p, addImage(tx, 'c', ['l1', 'l2'], { parentId: p })];
    });
    db.tx((tx) => {
      tags.set(tx, BB, 'latest', parent);
      digestRefs.add(tx, BB, sha256('manifest:p'), parent);
    });
    assert.deepEqual(db.read((tx) => images.children(tx, parent)), [child]);
    assert.deepEqual(
      db.tx((tx) => images.remove(tx, parent)),
      { tags: [{ repository: BB, tag: 'latest' }], digests: [{ repository: BB, digest: sha256('manifest:p') }] },
    );
    assert.equal(db.tx((tx) => images.remove(tx, parent)), undefined);
    assert.equal(db.read((tx) => images.find(tx, child))?.parentId, undefined);
  });
});

describe('tags and digest references', () => {
  test('moving a tag returns the previous image, which is left dangling but listed', () => {
    const [a, b] = db.tx((tx) => [addImage(tx, 'a', ['l1'], { created: 1 }), addImage(tx, 'b', ['l2'], { created: 2 })]);
    assert.deepEqual(db.tx((tx) => tags.set(tx, BB, 'latest', a)), {});
    assert.deepEqual(db.tx((tx) => tags.set(tx, BB, 'latest', a)), {});
    assert.deepEqual(db.tx((tx) => tags.set(tx, BB, 'latest', b, 2_000)), { previous: a });
    db.read((tx) => {
      assert.deepEqual(tags.forImage(tx, a), []);
      assert.deepEqual(tags.forImage(tx, b), [{ repository: BB, tag: 'latest' }]);
      assert.equal(tags.find(tx, BB, 'latest'), b);
      assert.deepEqual(
        images.list(tx).map((i) => [i.id, i.repoTags.length]),
        [
          [b, 1],
          [a, 0],
        ],
      );
      assert.deepEqual(tx.get('SELECT created_at FROM tags'), { created_at: 2_000 });
    });
    assert.equal(db.tx((tx) => tags.remove(tx, BB, 'latest')), b);
    assert.equal(db.tx((tx) => tags.remove(tx, BB, 'latest')), undefined);
  });

  test('tagging a missing image is NOT_FOUND', () => {
    assert.throws(
      () => db.tx((tx) => tags.set(tx, BB, 'latest', id64('dead'))),
      (e: unknown) => isCode(e, 'NOT_FOUND') && (e as Error).message === `No such image: ${id64('dead')}`,
    );
  });

  test('a digest reference never moves', () => {
    const idx = sha256('multi-index');
    const [amd, arm] = db.tx((tx) => [addImage(tx, 'amd', ['l1']), addImage(tx, 'arm', ['l2'])]);
    assert.deepEqual(db.tx((tx) => digestRefs.add(tx, BB, idx, amd)), { imageId: amd, added: true });
    assert.deepEqual(db.tx((tx) => digestRefs.add(tx, BB, idx, arm)), { imageId: amd, added: false });
    db.read((tx) => {
      assert.equal(digestRefs.find(tx, BB, idx), amd);
      assert.deepEqual(digestRefs.forImage(tx, amd), [{ repository: BB, digest: idx }]);
      assert.deepEqual(digestRefs.forImage(tx, arm), []);
    });
    // The same digest in another repository is a separate reference.
    assert.deepEqual(db.tx((tx) => digestRefs.add(tx, 'example.com/x', idx, arm)), { imageId: arm, added: true });
    assert.equal(db.tx((tx) => digestRefs.remove(tx, BB, idx)), amd);
  });
});

describe('packed references (migration 3 triggers)', () => {
  /** What the triggers must keep: each image's references grouped from the tables, in order. */
  function expectedPacks(tx: Tx): Map<string, [string, string]> {
    const pack = (rows: { repository: string; ref: string }[]) => {
      const groups = new Map<string, string[]>();
      for (const r of rows) groups.set(r.repository, [...(groups.get(r.repository) ?? []), r.ref]);
      return [...groups.keys()]
        .sort()
        .map((repo) => [repo, ...groups.get(repo)!.sort()].join('\n'))
        .join('\v');
    };
    const out = new Map<string, [string, string]>();
    for (const { id } of tx.all<{ id: string }>(`SELECT id FROM images`)) {
      out.set(id, [
        pack(tx.all(`SELECT repository, tag AS ref FROM tags WHERE image_id = ?`, id)),
        pack(tx.all(`SELECT repository, digest AS ref FROM digest_refs WHERE image_id = ?`, id)),
      ]);
    }
    return out;
  }
  const packs = (tx: Tx) =>
    new Map(tx.raw<[string, string, string]>(`SELECT id, tags_packed, digests_packed FROM images`).map(([id, t, d]) => [id, [t, d]]));

  // Names where byte order and "repository, then ref" order disagree, and tags that sort oddly.
  const repo = fc.constantFrom('docker.io/library/a', 'docker.io/library/a-b', 'docker.io/library/a/b', 'example.com/x');
  const ref = fc.constantFrom('latest', '1', '10', '2', 'v1.0', 'V1');
  const op = fc.oneof(
    fc.record({ kind: fc.constant('tag' as const), image: fc.nat(3), repo, ref }),
    fc.record({ kind: fc.constant('untag' as const), repo, ref }),
    fc.record({ kind: fc.constant('digest' as const), image: fc.nat(3), repo, ref }),
    fc.record({ kind: fc.constant('undigest' as const), repo, ref }),
    fc.record({ kind: fc.constant('remove' as const), image: fc.nat(3) }),
  );

  test('every tag, move, untag, digest reference and removal keeps each image\'s packs', () => {
    fc.assert(
      fc.property(fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }), (batches) => {
        db.tx((tx) => {
          tx.run(`DELETE FROM tags`);
          tx.run(`DELETE FROM digest_refs`);
        });
        const ids = db.tx((tx) => [0, 1, 2, 3].map((i) => addImage(tx, `img${i}`, [`l${i}`])));
        for (const batch of batches) {
          db.tx((tx) => {
            for (const o of batch) {
              const digest = sha256(`d:${'ref' in o ? o.ref : ''}`);
              if (o.kind === 'tag' && images.find(tx, ids[o.image]!)) tags.set(tx, o.repo, o.ref, ids[o.image]!);
              else if (o.kind === 'untag') tags.remove(tx, o.repo, o.ref);
              else if (o.kind === 'digest' && images.find(tx, ids[o.image]!)) digestRefs.add(tx, o.repo, digest, ids[o.image]!);
              else if (o.kind === 'undigest') digestRefs.remove(tx, o.repo, digest);
              else if (o.kind === 'remove') images.remove(tx, ids[o.image]!);
            }
          });
          db.read((tx) => assert.deepEqual(packs(tx), expectedPacks(tx)));
        }
      }),
      { numRuns: 150 },
    );
  });

  test('the listing reads references from the packs, in Docker\'s order', () => {
    const id = db.tx((tx) => {
      const i = addImage(tx, 'p', ['l1']);
      for (const [r, t] of [['docker.io/library/a', '2'], ['docker.io/library/a-b', 'x'], ['docker.io/library/a', '10']] as const) tags.set(tx, r, t, i);
      digestRefs.add(tx, 'example.com/x', sha256('m'), i);
      return i;
    });
    assert.deepEqual(db.read((tx) => images.listPacked(tx)), [
      {
        id,
        created: undefined,
        size: 2000,
        parentId: undefined,
        tags: 'docker.io/library/a\n10\n2\vdocker.io/library/a-b\nx',
        digests: `example.com/x\n${sha256('m')}`,
      },
    ]);
  });
});

describe('resolveImage (behaviour §1.6)', () => {
  const resolve = (s: string) => db.read((tx) => resolveImage(tx, s, parseRef));

  test('full ID, sha256: full ID, missing full ID', () => {
    const id = db.tx((tx) => addImage(tx, 'a', ['l1'], { id: id64('c177483e8e62', '1') }));
    assert.deepEqual(resolve(id.slice(7))?.by, 'id');
    assert.equal(resolve(id.slice(7))?.image.id, id);
    assert.equal(resolve(id)?.image.id, id);
    assert.equal(resolve(id64('c177483e8e62', '2')), undefined);
  });

  test('names: default tag latest, explicit tag, digest reference', () => {
    const id = db.tx((tx) => {
      const i = addImage(tx, 'a', ['l1']);
      tags.set(tx, BB, 'latest', i);
      tags.set(tx, 'localhost:5000/app', 'v1', i);
      digestRefs.add(tx, BB, sha256('manifest:a'), i);
      return i;
    });
    assert.deepEqual(resolve('busybox'), {
      by: 'reference',
      image: db.read((tx) => images.find(tx, id)),
      repository: BB,
      tag: 'latest',
    });
    assert.equal(resolve('busybox:latest')?.image.id, id);
    assert.equal(resolve('localhost:5000/app:v1')?.image.id, id);
    assert.equal(resolve('localhost:5000/app'), undefined);
    const byDigest = resolve(`busybox@${sha256('manifest:a')}`);
    assert.deepEqual([byDigest?.by, byDigest?.image.id], ['reference', id]);
    assert.equal(byDigest?.by === 'reference' && byDigest.digest, sha256('manifest:a'));
    assert.equal(resolve(`busybox:other@${sha256('manifest:a')}`)?.image.id, id);
    assert.equal(resolve(`busybox@${sha256('other')}`), undefined);
  });

  test('a tag spelled like an ID prefix wins over the prefix', () => {
    const [target, other] = db.tx((tx) => {
      const t = addImage(tx, 'target', ['l1'], { id: id64('c177483e8e62', 'a') });
      const o = addImage(tx, 'other', ['l2'], { id: id64('0123') });
      tags.set(tx, 'docker.io/library/c177483e8e62', 'latest', o);
      return [t, o];
    });
    assert.deepEqual([resolve('c177483e8e62')?.by, resolve('c177483e8e62')?.image.id], ['reference', other]);
    // Not a tag, so the prefix applies.
    assert.deepEqual([resolve('c177')?.by, resolve('c177')?.image.id], ['prefix', target]);
    assert.deepEqual([resolve('sha256:c177')?.by, resolve('sha256:c177')?.image.id], ['prefix', target]);
    assert.equal(resolve('0')?.image.id, other);
  });

  test('ambiguous or unknown prefix is undefined; parse errors propagate', () => {
    db.tx((tx) => {
      addImage(tx, 'a', ['l1'], { id: id64('0a') });
      addImage(tx, 'b', ['l2'], { id: id64('0b') });
    });
    assert.equal(resolve('0'), undefined);
    assert.equal(resolve('sha256:0'), undefined);
    assert.equal(resolve('0a')?.image.id, id64('0a'));
    assert.equal(resolve('nosuch'), undefined);
    assert.equal(resolve('sha256:6'), undefined);
    assert.equal(resolve('UPPER'), undefined);
    assert.throws(
      () =>
        db.read((tx) =>
          resolveImage(tx, 'Bad', () => {
            throw new Error('invalid reference format: repository name must be lowercase');
          }),
        ),
      { message: 'invalid reference format: repository name must be lowercase' },
    );
  });
});

describe('garbage collection', () => {
  const counts = () =>
    db.read((tx) => ({
      images: images.count(tx),
      blobs: blobs.count(tx),
      snapshots: tx.get<{ n: number }>('SELECT count(*) AS n FROM snapshots')!.n,
    }));

  test('shared blobs and snapshots stay while one image uses them, and go with the last', () => {
    const [a, b] = db.tx((tx) => {
      const ia = addImage(tx, 'a', ['base', 'onlyA']);
      const ib = addImage(tx, 'b', ['base', 'onlyB']);
      tags.set(tx, BB, 'a', ia);
      tags.set(tx, BB, 'b', ib);
      return [ia, ib];
    });
    const chainA = chainIds([diffId('base'), diffId('onlyA')]);
    const chainB = chainIds([diffId('base'), diffId('onlyB')]);
    assert.deepEqual(db.tx((tx) => collectGarbage(tx)), { blobs: [], snapshots: [], images: [], bytes: 0 });

    const planA = db.read((tx) => imageRemovalPlan(tx, a));
    assert.deepEqual(planA, {
      blobs: [sha256('manifest:a'), a, layerBlob('onlyA')].sort(),
      snapshots: [chainA[1]],
      snapshotBytes: layerSize('onlyA'),
      blobBytes: 500 + 300 + 101,
    });

    const gcA = db.tx((tx) => {
      images.remove(tx, a);
      return collectGarbage(tx);
    });
    assert.deepEqual(gcA, { blobs: planA.blobs, snapshots: planA.snapshots, images: [], bytes: planA.blobBytes + planA.snapshotBytes });
    assert.deepEqual(counts(), { images: 1, blobs: 4, snapshots: 2 });

    // Now the base layer is b's alone: the plan lists top layer first, down to the base.
    const planB = db.read((tx) => imageRemovalPlan(tx, b));
    assert.deepEqual(planB.snapshots, [chainB[1], chainB[0]]);
    assert.equal(planB.snapshotBytes, layerSize('onlyB') + layerSize('base'));
    const gcB = db.tx((tx) => {
      images.remove(tx, b);
      return collectGarbage(tx);
    });
    assert.deepEqual(gcB, {
      blobs: [sha256('manifest:b'), b, layerBlob('base'), layerBlob('onlyB')].sort(),
      snapshots: [chainB[1], chainB[0]],
      images: [],
      bytes: planB.blobBytes + planB.snapshotBytes,
    });
    assert.deepEqual(counts(), { images: 0, blobs: 0, snapshots: 0 });
  });

  test('dangling images are kept by default and swept in referenced mode (parents of kept images stay)', () => {
    const [base, child, dangling] = db.tx((tx) => {
      const p = addImage(tx, 'parent', ['l1']);
      const c = addImage(tx, 'child', ['l1', 'l2'], { parentId: p });
      const d = addImage(tx, 'dangling', ['l3']);
      tags.set(tx, BB, 'child', c);
      return [p, c, d];
    });
    assert.deepEqual(db.tx((tx) => collectGarbage(tx)), { blobs: [], snapshots: [], images: [], bytes: 0 });
    const r = db.tx((tx) => collectGarbage(tx, tx.now, { images: 'referenced' }));
    assert.deepEqual(r, {
      images: [dangling],
      blobs: [sha256('manifest:dangling'), dangling, layerBlob('l3')].sort(),
      snapshots: [diffId('l3')],
      bytes: 300 + 500 + 100 + layerSize('l3'),
    });
    assert.deepEqual(
      db.read((tx) => images.list(tx).map((i) => i.id).sort()),
      [base, child].sort(),
    );
  });

  test('a digest reference keeps the index blob it names; sweeping an index drops its children rows', () => {
    const ix = sha256('index');
    const id = db.tx((tx) => {
      indexes.put(tx, {
        digest: ix,
        mediaType: OCI_INDEX,
        size: 700,
        children: [
          { digest: sha256('manifest:a'), mediaType: OCI_MANIFEST, size: 500, platform: { os: 'linux', architecture: 'amd64' } },
          { digest: sha256('manifest:arm'), mediaType: OCI_MANIFEST, size: 501, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
        ],
      });
      const i = addImage(tx, 'a', ['l1']);
      digestRefs.add(tx, BB, ix, i);
      return i;
    });
    assert.deepEqual(db.read((tx) => indexes.find(tx, ix))?.children[1], {
      digest: sha256('manifest:arm'),
      mediaType: OCI_MANIFEST,
      size: 501,
      platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
    });
    assert.deepEqual(db.read((tx) => indexes.parentsOf(tx, sha256('manifest:a'))), [ix]);
    assert.deepEqual(db.tx((tx) => collectGarbage(tx)).blobs, []);
    const r = db.tx((tx) => {
      digestRefs.remove(tx, BB, ix);
      return collectGarbage(tx);
    });
    assert.deepEqual(r.blobs, [ix]);
    assert.equal(db.read((tx) => indexes.find(tx, ix)), undefined);
    assert.equal(db.read((tx) => tx.get<{ n: number }>('SELECT count(*) AS n FROM index_children')!.n), 0);
    assert.ok(db.read((tx) => images.find(tx, id)));
  });

  test('leases protect unreferenced blobs and snapshots (with parents) until they expire', () => {
    const chain = chainIds([diffId('p'), diffId('c')]);
    const lease = db.tx((tx) => {
      blobs.put(tx, { digest: layerBlob('p'), size: 1, mediaType: OCI_LAYER });
      blobs.put(tx, { digest: layerBlob('c'), size: 1, mediaType: OCI_LAYER });
      snapshots.put(tx, { chainId: chain[0]!, diffId: diffId('p'), size: 1 });
      snapshots.put(tx, { chainId: chain[1]!, parentChainId: chain[0], diffId: diffId('c'), size: 1 });
      const l = leases.acquire(tx, 1_000, 0);
      leases.add(tx, l, 'blob', layerBlob('c'));
      leases.add(tx, l, 'snapshot', chain[1]!);
      leases.add(tx, l, 'ingest', 'pull-ref-1');
      return l;
    });
    // The unleased blob goes at once; the leased ones and the parent snapshot stay.
    assert.deepEqual(db.tx((tx) => collectGarbage(tx, 500)), { blobs: [layerBlob('p')], snapshots: [], images: [], bytes: 1 });
    db.read((tx) => {
      assert.deepEqual(leases.heldKeys(tx, 'ingest', 999), ['pull-ref-1']);
      assert.equal(isLive(tx, 'blob', layerBlob('p'), 500), false);
      assert.equal(isLive(tx, 'blob', layerBlob('c'), 500), true);
    });
    assert.deepEqual(db.tx((tx) => collectGarbage(tx, 999)), { blobs: [], snapshots: [], images: [], bytes: 0 });
    // Renewing pushes expiry to 999 + 1000; at 1999 it has expired.
    db.tx((tx) => leases.renew(tx, lease, 1_000, 999));
    assert.deepEqual(db.tx((tx) => collectGarbage(tx, 1_500)).blobs, []);
    assert.deepEqual(db.tx((tx) => collectGarbage(tx, 1_999)), {
      blobs: [layerBlob('c')],
      snapshots: [chain[1], chain[0]],
      images: [],
      bytes: 3,
    });
    db.read((tx) => {
      assert.equal(leases.find(tx, lease), undefined);
      assert.equal(isLive(tx, 'snapshot', chain[0]!, 2_000), false);
    });
    assert.throws(() => db.tx((tx) => leases.add(tx, lease, 'blob', 'x')), (e: unknown) => isCode(e, 'NOT_FOUND'));
  });

  test('a released lease frees at once; a lease makes a swept digest live again for the file check', () => {
    const d = layerBlob('x');
    const l = db.tx((tx) => {
      blobs.put(tx, { digest: d, size: 1, mediaType: OCI_LAYER });
      const id = leases.acquire(tx, 60_000);
      leases.add(tx, id, 'blob', d);
      return id;
    });
    assert.deepEqual(db.tx((tx) => collectGarbage(tx)).blobs, []);
    db.tx((tx) => leases.release(tx, l));
    assert.deepEqual(db.tx((tx) => collectGarbage(tx)).blobs, [d]);
    // A concurrent pull leases the digest before checking its file: GC must not unlink it now.
    db.tx((tx) => {
      assert.equal(isLive(tx, 'blob', d), false);
      leases.add(tx, leases.acquire(tx, 60_000), 'blob', d);
      assert.equal(isLive(tx, 'blob', d), true);
    });
  });

  test('a removal plan keeps what a lease or another image still reaches', () => {
    const [a] = db.tx((tx) => {
      const ia = addImage(tx, 'a', ['base', 'top']);
      addImage(tx, 'b', ['base']);
      const l = leases.acquire(tx, 10_000);
      leases.add(tx, l, 'blob', layerBlob('top'));
      return [ia];
    });
    const plan = db.read((tx) => imageRemovalPlan(tx, a));
    assert.deepEqual(plan.snapshots, [chainIds([diffId('base'), diffId('top')])[1]]);
    assert.deepEqual(plan.blobs, [sha256('manifest:a'), a].sort());
  });
});
