import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LadingError } from '../errors/index.js';
import { OciDir, tarEntries, writeImageArchive } from '../formats/index.js';
import {
  MAX_MANIFEST_BYTES,
  hostPlatform,
  parseImageConfig,
  parseManifest,
  type Descriptor,
  type Digest,
  type Platform,
} from '../oci/index.js';
import { familiarName, parseReference, repositoryName, withDefaultTag, type Reference } from '../reference/index.js';
import type { RegistryClient, RegistryPusher } from '../remote/index.js';
import type { LocalImages } from './local-images.js';
import type { OnProgress } from './progress.js';
import { selectPlatform } from './select-platform.js';

/** Where an image lives, as `image copy` names it. */
export type ImageLocation =
  | { kind: 'registry'; ref: Reference }
  | { kind: 'local'; name: string }
  | { kind: 'oci'; dir: string; tag?: string }
  | { kind: 'docker-archive'; file: string };

/** `docker://REF` or a bare reference, `local:NAME`, `oci:DIR[:TAG]`, `docker-archive:FILE`. */
export function parseLocation(s: string): ImageLocation {
  if (s.startsWith('oci:')) {
    const rest = s.slice(4);
    const i = rest.lastIndexOf(':');
    return i > 0 && !rest.slice(i + 1).includes('/') ? { kind: 'oci', dir: rest.slice(0, i), tag: rest.slice(i + 1) } : { kind: 'oci', dir: rest };
  }
  if (s.startsWith('docker-archive:')) return { kind: 'docker-archive', file: s.slice('docker-archive:'.length) };
  if (s.startsWith('local:')) return { kind: 'local', name: s.slice(6) };
  return { kind: 'registry', ref: parseReference(s.startsWith('docker://') ? s.slice(9) : s) };
}

/** One image, read lazily: exact manifest and config bytes, layers opened as streams at an offset. */
export interface SourceImage {
  manifest: { descriptor: Descriptor; bytes: Buffer };
  config: { descriptor: Descriptor; bytes: Buffer };
  layers: Descriptor[];
  open(d: Descriptor, offset: number): Promise<Readable>;
  /** A name it had where it came from (for sinks that record names). */
  name?: { repository: string; tag: string };
}

export interface CopyDeps {
  local: LocalImages;
  remote: RegistryClient;
  pusher: RegistryPusher;
}

export interface CopyOptions {
  platform?: Platform;
  signal?: AbortSignal;
  onProgress?: OnProgress;
}

async function readAllStream(s: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of s) {
    n += (c as Buffer).length;
    if (n > max) throw new LadingError('MANIFEST_INVALID', `blob larger than ${max} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks, n);
}

/** Resolve an index to one platform's manifest with `fetch`. */
async function pickManifest(top: { descriptor: Descriptor; bytes: Buffer }, platform: Platform, fetch: (d: Descriptor) => Promise<Buffer>) {
  const p = parseManifest(top.bytes, top.descriptor.mediaType);
  if (p.kind === 'manifest') return { descriptor: { ...top.descriptor, mediaType: p.manifest.mediaType ?? top.descriptor.mediaType }, bytes: top.bytes, manifest: p.manifest };
  const child = selectPlatform(p.index, platform);
  const bytes = await fetch(child);
  const m = parseManifest(bytes, child.mediaType);
  if (m.kind !== 'manifest') throw new LadingError('MANIFEST_INVALID', `${child.digest} is not an image manifest`);
  return { descriptor: { mediaType: child.mediaType, digest: child.digest, size: child.size }, bytes, manifest: m.manifest };
}

async function openSource(d: CopyDeps, loc: ImageLocation, o: CopyOptions, cleanup: Array<() => Promise<void>>): Promise<SourceImage> {
  const platform = o.platform ?? hostPlatform();
  const signal = o.signal;
  switch (loc.kind) {
    case 'registry': {
      const ref = withDefaultTag(loc.ref);
      const repo = { registry: ref.domain, repository: ref.path };
      const top = await d.remote.resolve(repo, ref.digest ?? ref.tag ?? 'latest', signal ? { signal } : {});
      const m = await pickManifest({ descriptor: top.descriptor, bytes: Buffer.from(top.bytes) }, platform, async (c) => Buffer.from((await d.remote.fetchManifest(repo, c.digest, signal ? { signal } : {})).bytes));
      const cfg = await d.remote.fetchBlob(repo, m.manifest.config, { verify: true, ...(signal ? { signal } : {}) });
      const cbytes = await readAllStream(cfg.stream, MAX_MANIFEST_BYTES);
      return {
        manifest: { descriptor: m.descriptor, bytes: m.bytes },
        config: { descriptor: m.manifest.config, bytes: cbytes },
        layers: m.manifest.layers,
        // Registry-to-registry: blobs stream straight from the source into the upload.
        open: async (l, offset) => {
          const r = await d.remote.fetchBlob(repo, l, { offset, ...(signal ? { signal } : {}) });
          if (r.offset !== offset) {
            r.stream.destroy();
            throw new LadingError('UNAVAILABLE', `source registry did not honour a ranged read of ${l.digest}`);
          }
          return r.stream;
        },
        ...(ref.tag ? { name: { repository: repositoryName(ref), tag: ref.tag } } : {}),
      };
    }
    case 'local': {
      const rec = d.local.find(loc.name);
      if (!rec) throw new LadingError('NOT_FOUND', `No such image: ${loc.name}`);
      const img = await d.local.read(rec, signal);
      let name: { repository: string; tag: string } | undefined;
      try {
        const r = parseReference(loc.name);
        if (!r.digest) name = { repository: repositoryName(r), tag: r.tag ?? 'latest' };
      } catch {
        // an ID: no name
      }
      return {
        manifest: { descriptor: img.manifest.descriptor, bytes: img.manifest.bytes },
        config: { descriptor: img.config.descriptor, bytes: img.config.bytes },
        layers: img.manifest.manifest.layers,
        open: (l, offset) => d.local.openBlob(l.digest, offset, signal),
        ...(name ? { name } : {}),
      };
    }
    case 'oci': {
      const dir = new OciDir(loc.dir);
      return ociSource(dir, loc.tag, platform);
    }
    case 'docker-archive': {
      // Unpacked to a temporary directory; the archive must hold an OCI layout (Docker 25+, lading).
      const tmp = await mkdtemp(join(dirname(loc.file) || '.', '.lading-copy-'));
      cleanup.push(() => rm(tmp, { recursive: true, force: true }));
      const dir = new OciDir(tmp);
      let hasIndex = false;
      for await (const e of tarEntries(createReadStream(loc.file), signal ? { signal } : {})) {
        if (e.header.type !== 'file' || e.name.includes('..')) continue;
        if (e.name === 'index.json') hasIndex = true;
        const out = join(tmp, e.name);
        await mkdir(dirname(out), { recursive: true });
        await pipeline(e.stream, createWriteStream(out));
      }
      if (!hasIndex) {
        throw new LadingError('UNSUPPORTED', `docker-archive:${loc.file} has no OCI layout (written by Docker before 25): use lading load, then copy from local:`);
      }
      return ociSource(dir, undefined, platform);
    }
  }
}

async function ociSource(dir: OciDir, tag: string | undefined, platform: Platform): Promise<SourceImage> {
  const top = await dir.find(tag);
  const m = await pickManifest({ descriptor: top, bytes: await dir.readSmall(top) }, platform, (c) => dir.readSmall(c));
  const cbytes = await dir.readSmall(m.manifest.config);
  const named = top.annotations?.['io.containerd.image.name'];
  let name: { repository: string; tag: string } | undefined;
  if (named) {
    try {
      const r = parseReference(named);
      if (r.tag) name = { repository: repositoryName(r), tag: r.tag };
    } catch {
      // not a reference
    }
  }
  return {
    manifest: { descriptor: m.descriptor, bytes: m.bytes },
    config: { descriptor: m.manifest.config, bytes: cbytes },
    layers: m.manifest.layers,
    open: (l, offset) => dir.open(l.digest, offset),
    ...(name ? { name } : {}),
  };
}

/**
 * `image copy SRC DST` between a registry, the local store, an OCI layout directory and a
 * docker-archive file. Registry to registry never touches the store: each blob is HEADed at the
 * destination and streamed from the source into the upload. Returns the manifest digest written.
 */
export async function copyImage(d: CopyDeps, src: ImageLocation, dst: ImageLocation, o: CopyOptions = {}): Promise<Digest> {
  const emit: OnProgress = o.onProgress ?? (() => {});
  const signal = o.signal;
  const cleanup: Array<() => Promise<void>> = [];
  try {
    const img = await openSource(d, src, o, cleanup);
    const blobs = [...img.layers, img.config.descriptor];
    switch (dst.kind) {
      case 'registry': {
        const ref = withDefaultTag(dst.ref);
        const repo = { registry: ref.domain, repository: ref.path };
        for (const b of blobs) {
          if (await d.pusher.exists(repo, b, signal ? { signal } : {})) continue;
          emit({ kind: 'message', text: `Copying blob ${b.digest}` });
          await d.pusher.pushBlob(repo, b, (off) => (b === img.config.descriptor ? Promise.resolve(bufferStream(img.config.bytes.subarray(off))) : img.open(b, off)), signal ? { signal } : {});
        }
        await d.pusher.pushManifest(repo, ref.digest ?? ref.tag ?? 'latest', img.manifest.bytes, img.manifest.descriptor.mediaType, signal ? { signal } : {});
        break;
      }
      case 'oci': {
        const dir = new OciDir(dst.dir);
        for (const b of img.layers) await dir.put(b, await img.open(b, 0));
        await dir.put(img.config.descriptor, bufferStream(img.config.bytes));
        await dir.put(img.manifest.descriptor, bufferStream(img.manifest.bytes));
        await dir.tag(img.manifest.descriptor, dst.tag);
        break;
      }
      case 'docker-archive': {
        const tmp = join(dirname(dst.file), `.${basename(dst.file)}.${randomBytes(4).toString('hex')}.tmp`);
        const names = img.name ? [{ full: img.name.repository, familiar: familiarName(parseReference(img.name.repository)), tag: img.name.tag }] : [];
        try {
          await writeImageArchive(
            createWriteStream(tmp),
            [{ manifest: img.manifest, config: img.config, layers: img.layers.map((l) => ({ descriptor: l, open: () => img.open(l, 0) })), names }],
            signal ? { signal } : {},
          );
          await rename(tmp, dst.file);
        } catch (e) {
          await unlink(tmp).catch(() => {});
          throw e;
        }
        break;
      }
      case 'local': {
        // Recorded exactly as a pull or load records it: blobs, unpacked snapshots, image, tag.
        let ref: Reference | undefined;
        try {
          ref = withDefaultTag(parseReference(dst.name));
        } catch {
          throw new LadingError('INVALID_ARGUMENT', `invalid local name ${JSON.stringify(dst.name)}`);
        }
        const lease = d.local.acquireLease();
        try {
          for (const b of img.layers) await d.local.putBlob(lease, b, (off) => img.open(b, off), signal);
          await d.local.putBytes(lease, img.config.descriptor, img.config.bytes);
          await d.local.putBytes(lease, img.manifest.descriptor, img.manifest.bytes);
          const config = parseImageConfig(img.config.bytes);
          await d.local.unpack(lease, img.layers, config.rootfs.diff_ids, signal ? { signal } : {});
          d.local.recordImage({
            manifest: img.manifest,
            config: { descriptor: img.config.descriptor, config },
            layers: img.layers,
            tags: ref.tag && !ref.digest ? [{ repository: repositoryName(ref), tag: ref.tag }] : [],
          });
        } finally {
          d.local.releaseLease(lease);
        }
        break;
      }
    }
    return img.manifest.descriptor.digest;
  } finally {
    for (const c of cleanup) await c().catch(() => {});
  }
}

function bufferStream(b: Buffer): Readable {
  return Readable.from([b]);
}
