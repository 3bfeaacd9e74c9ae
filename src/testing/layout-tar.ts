import { pack } from 'tar-stream';
import type { FixtureImage } from './image-builder.js';

/**
 * An OCI image layout as a tar, written by hand from fixture images (not by lading's writer), with
 * the given index.json entries. `manifestMediaType` overrides the descriptor's media type.
 */
export async function ociLayoutTar(
  images: Array<{ image: FixtureImage; annotations?: Record<string, string>; manifestMediaType?: string }>,
): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => void chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  const add = (name: string, b: Buffer) => p.entry({ name, size: b.length, mtime: new Date(0) }, b);
  add('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  const seen = new Set<string>();
  for (const { image } of images) {
    for (const b of [image.manifest, ...image.blobs]) {
      if (seen.has(b.descriptor.digest)) continue;
      seen.add(b.descriptor.digest);
      add(`blobs/sha256/${b.descriptor.digest.slice(7)}`, b.bytes);
    }
  }
  const manifests = images.map((i) => ({
    ...i.image.manifest.descriptor,
    ...(i.manifestMediaType ? { mediaType: i.manifestMediaType } : {}),
    ...(i.annotations ? { annotations: i.annotations } : {}),
  }));
  add('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, manifests })));
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}
