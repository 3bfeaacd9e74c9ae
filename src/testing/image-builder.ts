import { gzipSync } from 'node:zlib';
import { MediaType, sha256, type Descriptor, type Digest, type Platform } from '../oci/index.js';
import { compressZstd } from './zstd.js';

/** A blob held in memory by a fixture image. */
export interface FixtureBlob {
  descriptor: Descriptor;
  bytes: Buffer;
}

export interface FixtureImage {
  manifest: FixtureBlob;
  config: FixtureBlob;
  layers: FixtureBlob[];
  diffIds: Digest[];
  /** Every blob the registry must hold for this image (config and layers). */
  blobs: FixtureBlob[];
}

export interface FixtureIndex {
  index: FixtureBlob;
  images: FixtureImage[];
}

export interface BuildImageOptions {
  /** Uncompressed layer tars, base first. */
  layers: Buffer[];
  format?: 'oci' | 'docker';
  compression?: 'gzip' | 'zstd' | 'none' | Array<'gzip' | 'zstd' | 'none'>;
  platform?: Platform;
  created?: string;
  config?: Record<string, unknown>;
  history?: Array<Record<string, unknown>>;
  /** Extra top-level config fields (labels go in config.Labels). */
  extra?: Record<string, unknown>;
}

function blob(mediaType: string, bytes: Buffer, extra: Partial<Descriptor> = {}): FixtureBlob {
  return { descriptor: { mediaType, digest: sha256(bytes), size: bytes.length, ...extra }, bytes };
}

function layerMediaType(format: 'oci' | 'docker', c: 'gzip' | 'zstd' | 'none'): string {
  if (format === 'docker') {
    if (c === 'gzip') return MediaType.DockerLayerGzip;
    if (c === 'none') return 'application/vnd.docker.image.rootfs.diff.tar';
    return MediaType.OciLayerZstd; // Docker schema 2 has no zstd type; registries accept the OCI one.
  }
  return c === 'gzip' ? MediaType.OciLayerGzip : c === 'zstd' ? MediaType.OciLayerZstd : MediaType.OciLayer;
}

/** Build an image deterministically: config from diff IDs, manifest from config and layers. */
export function buildImage(o: BuildImageOptions): FixtureImage {
  const format = o.format ?? 'oci';
  const platform = o.platform ?? { os: 'linux', architecture: 'amd64' };
  const layers = o.layers.map((tar, i) => {
    const c = Array.isArray(o.compression) ? (o.compression[i] ?? 'gzip') : (o.compression ?? 'gzip');
    const bytes = c === 'gzip' ? gzipSync(tar, { level: 1 }) : c === 'zstd' ? compressZstd(tar) : tar;
    return blob(layerMediaType(format, c), bytes);
  });
  const diffIds = o.layers.map((tar) => sha256(tar));
  const config = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    created: o.created ?? '2024-01-02T03:04:05.123456789Z',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'], ...(o.config ?? {}) },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: o.history ?? o.layers.map((_, i) => ({ created: o.created ?? '2024-01-02T03:04:05.123456789Z', created_by: `/bin/sh -c #(nop) layer ${i}` })),
    ...(o.extra ?? {}),
  };
  const configBlob = blob(format === 'oci' ? MediaType.OciConfig : MediaType.DockerConfig, Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: format === 'oci' ? MediaType.OciManifest : MediaType.DockerManifest,
    config: configBlob.descriptor,
    layers: layers.map((l) => l.descriptor),
  };
  const manifestBlob = blob(manifest.mediaType, Buffer.from(JSON.stringify(manifest, null, 2)));
  return { manifest: manifestBlob, config: configBlob, layers, diffIds, blobs: [configBlob, ...layers] };
}

/** An index over several images, each descriptor carrying its platform. */
export function buildIndex(images: FixtureImage[], o: { format?: 'oci' | 'docker' } = {}): FixtureIndex {
  const format = o.format ?? 'oci';
  const mediaType = format === 'oci' ? MediaType.OciIndex : MediaType.DockerManifestList;
  const manifests = images.map((img) => {
    const cfg = JSON.parse(img.config.bytes.toString('utf8')) as { os: string; architecture: string; variant?: string };
    const platform: Platform = { os: cfg.os, architecture: cfg.architecture, ...(cfg.variant ? { variant: cfg.variant } : {}) };
    return { ...img.manifest.descriptor, platform };
  });
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests }, null, 2));
  return { index: blob(mediaType, bytes), images };
}
