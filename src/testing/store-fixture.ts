import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { FsContentStore, storeBlob } from '../content/index.js';
import { blobs, digestRefs, images, openDatabase, snapshots, tags } from '../metadata/index.js';
import { chainIds, type Digest } from '../oci/index.js';
import { parseReference, repositoryName } from '../reference/index.js';
import { applyLayerSnapshot, createSnapshotter } from '../snapshot/index.js';
import type { FixtureImage } from './image-builder.js';

export interface SeedOptions {
  /** Tags, e.g. `app:v1` (familiar or full). */
  tags?: string[];
  /** Repositories that get a digest reference to the manifest, e.g. `app`. */
  digestRepos?: string[];
  parentId?: Digest;
  /** Recorded as added at and last used at (unix ms). */
  usedAt?: number;
  snapshotter?: 'native' | 'overlay';
}

/**
 * Put a fixture image into a store root the way a pull leaves it, without a registry: blobs
 * through the content store, layers unpacked into snapshots by chain ID, then the rows.
 * Real files and real SQLite, laid out as createEngine expects (`content/`, `snapshots/`, `lading.db`).
 * Layers must be gzip or uncompressed.
 */
export async function seedImage(root: string, img: FixtureImage, o: SeedOptions = {}): Promise<Digest> {
  mkdirSync(root, { recursive: true });
  const content = new FsContentStore(join(root, 'content'));
  const sn = createSnapshotter(join(root, 'snapshots'), { kind: o.snapshotter ?? 'native' });
  const db = openDatabase(join(root, 'lading.db'), o.usedAt !== undefined ? { clock: { now: () => o.usedAt! } } : {});
  try {
    for (const b of [img.manifest, img.config, ...img.layers]) {
      await storeBlob(content, b.descriptor, async () => Readable.from([b.bytes]));
    }
    const chains = chainIds(img.diffIds);
    for (let i = 0; i < img.layers.length; i++) {
      if (db.read((tx) => snapshots.find(tx, chains[i]!))) continue;
      const l = img.layers[i]!;
      const tar = l.descriptor.mediaType.endsWith('gzip') ? gunzipSync(l.bytes) : l.bytes;
      const r = await applyLayerSnapshot(sn, chains[i]!, chains[i - 1], Readable.from([tar]), { diffId: img.diffIds[i]! });
      db.tx((tx) => snapshots.put(tx, { chainId: chains[i]!, parentChainId: chains[i - 1], diffId: img.diffIds[i]!, size: r.size }));
    }
    const config = JSON.parse(img.config.bytes.toString()) as { created?: string; os: string; architecture: string; config?: { Labels?: Record<string, string> } };
    const id = img.config.descriptor.digest;
    db.tx((tx) => {
      for (const b of [img.manifest, img.config, ...img.layers]) blobs.put(tx, { digest: b.descriptor.digest, size: b.descriptor.size, mediaType: b.descriptor.mediaType });
      images.put(tx, {
        id,
        target: { digest: img.manifest.descriptor.digest, mediaType: img.manifest.descriptor.mediaType, size: img.manifest.descriptor.size },
        created: config.created ? Date.parse(config.created) : undefined,
        platform: { os: config.os, architecture: config.architecture },
        labels: config.config?.Labels ?? {},
        parentId: o.parentId,
        layers: img.layers.map((l) => l.descriptor.digest),
        chainIds: chains,
      });
      images.touch(tx, id);
      for (const t of o.tags ?? []) {
        const r = parseReference(t);
        tags.set(tx, repositoryName(r), r.tag ?? 'latest', id);
      }
      for (const repo of o.digestRepos ?? []) digestRefs.add(tx, repositoryName(parseReference(repo)), img.manifest.descriptor.digest, id);
    });
    return id;
  } finally {
    db.close();
  }
}
