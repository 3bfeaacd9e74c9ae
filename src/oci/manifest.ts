import { LadingError } from '../errors/index.js';
import { parseDigest, type Digest } from './digest.js';
import type { Descriptor } from './descriptor.js';
import { MediaType, isIndexType, isManifestType } from './media-types.js';
import type { Platform } from './platform.js';

/** Manifests and configs are capped at 4 MiB wherever they enter. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string; // OCI or Docker v2 schema 2 (normalised from the Content-Type when the body omits it)
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type ParsedManifest = { kind: 'manifest'; manifest: ImageManifest } | { kind: 'index'; index: ImageIndex };

const invalid = (msg: string) => new LadingError('MANIFEST_INVALID', `manifest invalid: ${msg}`);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) throw invalid(`${what} must map strings to strings`);
  return v as Record<string, string>;
}

export function parsePlatformField(v: unknown): Platform | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || typeof v.os !== 'string' || typeof v.architecture !== 'string') throw invalid('platform needs os and architecture');
  const p: Platform = { os: v.os, architecture: v.architecture };
  if (typeof v.variant === 'string' && v.variant) p.variant = v.variant;
  if (typeof v['os.version'] === 'string') p['os.version'] = v['os.version'];
  if (Array.isArray(v['os.features'])) p['os.features'] = v['os.features'].filter((x): x is string => typeof x === 'string');
  return p;
}

export function parseDescriptor(v: unknown, what = 'descriptor'): Descriptor {
  if (!isObject(v)) throw invalid(`${what} must be an object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${what} has no mediaType`);
  if (typeof digest !== 'string') throw invalid(`${what} has no digest`);
  let d: Digest;
  try {
    d = parseDigest(digest);
  } catch (e) {
    throw invalid(`${what} digest ${JSON.stringify(digest)}: ${(e as Error).message}`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${what} has an invalid size`);
  const out: Descriptor = { mediaType, digest: d, size };
  if (Array.isArray(v.urls)) out.urls = v.urls.filter((x): x is string => typeof x === 'string');
  const annotations = stringMap(v.annotations, `${what} annotations`);
  if (annotations) out.annotations = annotations;
  const platform = parsePlatformField(v.platform);
  if (platform) out.platform = platform;
  if (typeof v.artifactType === 'string') out.artifactType = v.artifactType;
  return out;
}

/**
 * Parse and validate manifest bytes. `contentType` is the registry's Content-Type (or the
 * descriptor's media type); the body's own mediaType wins when present, and the two must agree.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ParsedManifest {
  if (bytes.length > MAX_MANIFEST_BYTES) throw invalid(`larger than ${MAX_MANIFEST_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw invalid(`not JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw invalid('not a JSON object');
  const ct = contentType?.split(';')[0]?.trim();
  if (
    doc.schemaVersion === 1 ||
    ct === MediaType.DockerSchema1 ||
    ct === MediaType.DockerSchema1Signed
  ) {
    throw new LadingError(
      'UNSUPPORTED',
      'Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of the image to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2.',
    );
  }
  if (doc.schemaVersion !== 2) throw invalid(`unsupported schemaVersion ${JSON.stringify(doc.schemaVersion)}`);
  const bodyType = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  if (bodyType && ct && ct !== bodyType && (isIndexType(ct) || isManifestType(ct))) {
    throw invalid(`media type ${bodyType} does not match ${ct}`);
  }
  let mediaType = bodyType ?? (ct && (isIndexType(ct) || isManifestType(ct)) ? ct : undefined);
  // An OCI document may omit mediaType; tell image from index by its fields.
  if (!mediaType) mediaType = Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
  const annotations = stringMap(doc.annotations, 'annotations');
  const subject = doc.subject === undefined ? undefined : parseDescriptor(doc.subject, 'subject');
  const artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : undefined;
  if (isIndexType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw invalid('index has no manifests array');
    const index: ImageIndex = {
      schemaVersion: 2,
      mediaType,
      manifests: doc.manifests.map((m, i) => parseDescriptor(m, `manifests[${i}]`)),
    };
    if (annotations) index.annotations = annotations;
    if (subject) index.subject = subject;
    if (artifactType) index.artifactType = artifactType;
    return { kind: 'index', index };
  }
  if (!isManifestType(mediaType)) throw new LadingError('UNSUPPORTED', `unsupported manifest media type ${mediaType}`);
  if (!Array.isArray(doc.layers)) throw invalid('manifest has no layers array');
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType,
    config: parseDescriptor(doc.config, 'config'),
    layers: doc.layers.map((l, i) => parseDescriptor(l, `layers[${i}]`)),
  };
  if (annotations) manifest.annotations = annotations;
  if (subject) manifest.subject = subject;
  if (artifactType) manifest.artifactType = artifactType;
  return { kind: 'manifest', manifest };
}
