import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LadingError } from '../errors/index.js';
import { detectCompression } from '../compression/index.js';
import { blobPath, digestOfBlobPath, parseArchiveManifest, readCapped, tarEntries, type ArchiveManifestEntry } from '../formats/index.js';
import type { LeaseId } from '../metadata/index.js';
import {
  MAX_MANIFEST_BYTES,
  MediaType,
  hostPlatform,
  isIndexType,
  parseDigest,
  parseImageConfig,
  parseManifest,
  sha256,
  shortId,
  type Descriptor,
  type Digest,
  type ImageConfig,
  type Platform,
} from '../oci/index.js';
import { familiarString, parseReference, repositoryName, withDefaultTag } from '../reference/index.js';
import type { LocalImages } from './local-images.js';
import type { OnProgress } from './progress.js';
import { selectPlatform } from './select-platform.js';

export interface LoadOptions {
  /** For multi-platform OCI layouts: which platform to load (default: this machine's). */
  platform?: Platform;
  signal?: AbortSignal;
  onProgress?: OnProgress;
}

export interface LoadedImage {
  id: Digest;
  /** Familiar `name:tag` for each tag now pointing at it. */
  tags: string[];
}

/** Small files are held in memory while the archive streams past; the rest go to the store. */
const SMALL = 1024 * 1024;

interface ArchiveFile {
  size: number;
  bytes?: Buffer;
  /** Committed to the content store under this digest. */
  digest?: Digest;
}

interface Plan {
  manifest?: { descriptor: Descriptor; bytes: Buffer };
  config: { descriptor: Descriptor; bytes: Buffer; config: ImageConfig };
  layers: Descriptor[];
  names: Array<{ repository: string; tag: string }>;
}

/**
 * `docker load`: read a docker-archive (Docker ≤ 24's manifest.json format, or 25+'s that is also
 * an OCI layout) or a plain OCI image layout, uncompressed, gzip or zstd. Blobs stream into the
 * content store as they pass; once the archive has ended cleanly, every image must be complete
 * from the archive plus the local store (an offline bundle leaves out what the store has), every
 * layer is unpacked with its diff ID checked, and only then are the images and tags recorded, in
 * one transaction each. A truncated, corrupt or incomplete archive records nothing.
 */
export async function loadImages(local: LocalImages, input: Readable, o: LoadOptions = {}): Promise<LoadedImage[]> {
  const emit: OnProgress = o.onProgress ?? (() => {});
  const lease = local.acquireLease();
  try {
    const files = await readArchive(local, lease, input, o.signal);
    const plans = await planImages(local, files, o.platform ?? hostPlatform());
    if (plans.length === 0) throw new LadingError('INVALID_ARGUMENT', 'no images found in the archive (no manifest.json or index.json)');
    await checkComplete(local, files, plans);
    const byDigest = new Map<Digest, ArchiveFile>();
    for (const f of files.values()) byDigest.set(fileDigest(f), f);
    for (const p of plans) {
      if (p.manifest) await local.putBytes(lease, p.manifest.descriptor, p.manifest.bytes);
      await local.putBytes(lease, p.config.descriptor, p.config.bytes);
      for (const l of p.layers) {
        const f = byDigest.get(l.digest);
        if (f?.bytes) await local.putBytes(lease, l, f.bytes);
        else if (f?.digest) local.recordBlob(l);
      }
      if (!p.manifest) p.manifest = await synthesiseManifest(local, lease, p);
      const diffIds = p.config.config.rootfs.diff_ids;
      await local.unpack(lease, p.layers, diffIds, {
        ...(o.signal ? { signal: o.signal } : {}),
        onLayer: (i, current) => emit({ kind: 'layer', id: shortId(diffIds[i]!), action: 'loading', current, total: p.layers[i]!.size }),
      });
    }
    const out: LoadedImage[] = [];
    for (const p of plans) {
      const id = p.config.descriptor.digest;
      const moved = local.recordImage({
        manifest: p.manifest!,
        config: { descriptor: p.config.descriptor, config: p.config.config },
        layers: p.layers,
        tags: p.names,
      });
      const tags: string[] = [];
      for (const m of moved) {
        const shown = familiarString({ ...parseReference(m.repository), tag: m.tag });
        if (m.previous) emit({ kind: 'message', text: `The image ${shown} already exists, renaming the old one with ID ${m.previous} to empty string` });
        emit({ kind: 'message', text: `Loaded image: ${shown}` });
        tags.push(shown);
      }
      if (moved.length === 0) emit({ kind: 'message', text: `Loaded image ID: ${id}` });
      out.push({ id, tags });
    }
    return out;
  } finally {
    local.releaseLease(lease);
  }
}

async function readArchive(local: LocalImages, lease: LeaseId, input: Readable, signal: AbortSignal | undefined): Promise<Map<string, ArchiveFile>> {
  const files = new Map<string, ArchiveFile>();
  try {
    await readEntries(local, lease, input, files, signal);
  } catch (e) {
    if (signal?.aborted || e instanceof LadingError) throw e;
    // An entry cut short by a truncated archive fails its reader, not the iteration.
    throw new LadingError('INVALID_ARGUMENT', `Error processing tar file: ${(e as Error).message}`, { cause: e });
  }
  return files;
}

async function readEntries(local: LocalImages, lease: LeaseId, input: Readable, files: Map<string, ArchiveFile>, signal: AbortSignal | undefined): Promise<void> {
  for await (const e of tarEntries(input, signal ? { signal } : {})) {
    if (e.header.type !== 'file' && e.header.type !== 'contiguous-file') continue;
    const size = e.header.size ?? 0;
    const known = digestOfBlobPath(e.name);
    if (size <= SMALL || (!known && /\.json$|^repositories$|^oci-layout$/.test(e.name))) {
      const bytes = await readCapped(e.stream, MAX_MANIFEST_BYTES, e.name);
      if (known && sha256(bytes) !== known && known.startsWith('sha256:')) {
        throw new LadingError('DIGEST_MISMATCH', `invalid archive: ${e.name} does not match its digest`);
      }
      files.set(e.name, { size, bytes });
    } else if (known) {
      // Named by digest: stored (and verified against the name) as it streams past.
      await local.putBlob(lease, { mediaType: 'application/octet-stream', digest: known, size }, async () => e.stream, signal);
      files.set(e.name, { size, digest: known });
    } else {
      const d = await local.ingestStream(lease, 'application/octet-stream', (w) => pipeline(e.stream, w), signal);
      files.set(e.name, { size, digest: d.digest });
    }
  }
}

function fileDigest(f: ArchiveFile): Digest {
  return f.digest ?? sha256(f.bytes!);
}

/** A blob the archive names by path: from the archive, or (bundles) from the local store. */
async function blobAt(local: LocalImages, files: Map<string, ArchiveFile>, path: string): Promise<{ digest: Digest; size: number; bytes?: Buffer } | undefined> {
  const f = files.get(path);
  if (f) return { digest: fileDigest(f), size: f.size, ...(f.bytes ? { bytes: f.bytes } : {}) };
  const d = digestOfBlobPath(path);
  if (!d) return undefined;
  const info = await local.content.info(d);
  return info ? { digest: d, size: info.size } : undefined;
}

async function smallBlob(local: LocalImages, files: Map<string, ArchiveFile>, path: string, what: string): Promise<{ digest: Digest; size: number; bytes: Buffer }> {
  const b = await blobAt(local, files, path);
  if (!b) throw incomplete(what, digestOfBlobPath(path) ?? path);
  const bytes = b.bytes ?? (await local.content.readAll(b.digest, { maxBytes: MAX_MANIFEST_BYTES }));
  return { digest: b.digest, size: b.size, bytes };
}

const incomplete = (what: string, blob: string) =>
  new LadingError('NOT_FOUND', `incomplete archive: ${what} needs ${blob}, which is neither in the archive nor in the local store; nothing was loaded`);

function namesFromTags(tags: string[] | null): Array<{ repository: string; tag: string }> {
  const out: Array<{ repository: string; tag: string }> = [];
  for (const t of tags ?? []) {
    const r = withDefaultTag(parseReference(t));
    if (r.digest || !r.tag) continue;
    out.push({ repository: repositoryName(r), tag: r.tag });
  }
  return out;
}

/** Names in an OCI index entry: containerd's full name, else a ref.name that is a whole reference. */
function namesFromAnnotations(a: Record<string, string> | undefined): Array<{ repository: string; tag: string }> {
  const full = a?.['io.containerd.image.name'];
  const ref = a?.['org.opencontainers.image.ref.name'];
  for (const s of [full, ref]) {
    if (!s || (!s.includes(':') && !s.includes('/'))) continue; // a bare tag (skopeo's oci:DIR:tag) names no repository
    try {
      const r = parseReference(s);
      if (r.tag && !r.digest) return [{ repository: repositoryName(r), tag: r.tag }];
    } catch {
      // not a reference: leave the image untagged, as Docker does
    }
  }
  return [];
}

async function planImages(local: LocalImages, files: Map<string, ArchiveFile>, platform: Platform): Promise<Plan[]> {
  const mj = files.get('manifest.json');
  const ij = files.get('index.json');
  const entries: ArchiveManifestEntry[] | undefined = mj?.bytes ? parseArchiveManifest(mj.bytes) : undefined;
  const plans: Plan[] = [];
  // OCI layout: exact manifests, so digests survive the round trip.
  const byConfig = new Map<Digest, Plan>();
  if (ij?.bytes) {
    const top = parseManifest(ij.bytes, MediaType.OciIndex);
    if (top.kind !== 'index') throw new LadingError('INVALID_ARGUMENT', 'invalid index.json in archive');
    for (const d of top.index.manifests) {
      let desc = d;
      let names = namesFromAnnotations(d.annotations);
      if (isIndexType(d.mediaType)) {
        const ix = await smallBlob(local, files, blobPath(d.digest), `index ${d.digest}`);
        const parsed = parseManifest(ix.bytes, d.mediaType);
        if (parsed.kind !== 'index') throw new LadingError('MANIFEST_INVALID', `${d.digest} is not an index`);
        desc = selectPlatform(parsed.index, platform);
        names = names.length ? names : [];
      }
      const m = await smallBlob(local, files, blobPath(desc.digest), `manifest ${desc.digest}`);
      if (m.digest !== desc.digest) throw new LadingError('DIGEST_MISMATCH', `manifest ${desc.digest} does not match its digest`);
      const parsed = parseManifest(m.bytes, desc.mediaType);
      if (parsed.kind !== 'manifest') throw new LadingError('MANIFEST_INVALID', `${desc.digest} is not an image manifest`);
      const existing = byConfig.get(parsed.manifest.config.digest);
      if (existing) {
        for (const n of names) if (!existing.names.some((x) => x.repository === n.repository && x.tag === n.tag)) existing.names.push(n);
        continue;
      }
      const c = await smallBlob(local, files, blobPath(parsed.manifest.config.digest), `config ${parsed.manifest.config.digest}`);
      if (c.digest !== parsed.manifest.config.digest) throw new LadingError('DIGEST_MISMATCH', `config ${parsed.manifest.config.digest} does not match its digest`);
      const plan: Plan = {
        manifest: { descriptor: { mediaType: parsed.manifest.mediaType ?? desc.mediaType, digest: desc.digest, size: m.bytes.length }, bytes: m.bytes },
        config: { descriptor: parsed.manifest.config, bytes: c.bytes, config: parseImageConfig(c.bytes) },
        layers: parsed.manifest.layers,
        names,
      };
      byConfig.set(parsed.manifest.config.digest, plan);
      plans.push(plan);
    }
  }
  if (entries) {
    for (const e of entries) {
      const c = await smallBlob(local, files, e.Config, `image config ${e.Config}`);
      const names = namesFromTags(e.RepoTags);
      const oci = byConfig.get(c.digest);
      if (oci) {
        // Docker 25+ archives: manifest.json's RepoTags are the names Docker loads.
        if (names.length) oci.names = names;
        continue;
      }
      const config = parseImageConfig(c.bytes);
      const layers: Descriptor[] = [];
      for (const p of e.Layers) {
        const b = await blobAt(local, files, p);
        if (!b) throw incomplete(`image ${c.digest}`, digestOfBlobPath(p) ?? p);
        layers.push({ mediaType: '', digest: b.digest, size: b.size });
      }
      const plan: Plan = { config: { descriptor: { mediaType: MediaType.DockerConfig, digest: c.digest, size: c.bytes.length }, bytes: c.bytes, config }, layers, names };
      plans.push(plan);
    }
  }
  return plans;
}

async function checkComplete(local: LocalImages, files: Map<string, ArchiveFile>, plans: Plan[]): Promise<void> {
  const inArchive = new Set<string>();
  for (const f of files.values()) inArchive.add(fileDigest(f));
  for (const p of plans) {
    for (const l of p.layers) {
      if (inArchive.has(l.digest)) continue;
      if (!(await local.hasBlob(l.digest))) throw incomplete(`image ${p.config.descriptor.digest}`, l.digest);
    }
  }
}

/** Docker ≤ 24 archives carry no manifest: make a schema 2 one naming the layers as they are stored. */
async function synthesiseManifest(local: LocalImages, lease: LeaseId, p: Plan): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
  for (const l of p.layers) {
    const head = await readCapped(await local.content.open(l.digest, { start: 0, end: Math.min(l.size, 8) }), 16, 'layer head');
    const c = detectCompression(head);
    l.mediaType = c === 'gzip' ? MediaType.DockerLayerGzip : c === 'zstd' ? MediaType.OciLayerZstd : 'application/vnd.docker.image.rootfs.diff.tar';
  }
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.DockerManifest,
      config: p.config.descriptor,
      layers: p.layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
    }),
  );
  const descriptor = { mediaType: MediaType.DockerManifest, digest: parseDigest(sha256(bytes)), size: bytes.length };
  await local.putBytes(lease, descriptor, bytes);
  return { descriptor, bytes };
}
