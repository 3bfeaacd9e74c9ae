import { Readable, pipeline } from 'node:stream';
import { LadingError, RegistryError, canceled } from '../errors/index.js';
import {
  MANIFEST_ACCEPT,
  MAX_MANIFEST_BYTES,
  VerifyingStream,
  digestAlgorithm,
  hashDigest,
  isDigest,
  newHasher,
  parseDigest,
  parseManifest,
  type Descriptor,
  type Digest,
} from '../oci/index.js';
import { systemClock, type Clock } from '../util/index.js';
import { resumingRead, type OpenedBody } from './blob-reader.js';
import type { AuthConfig } from './credentials.js';
import { isDockerHub } from './hosts.js';
import type { Logger } from './logger.js';
import { errcodeString, networkError, readErrorResponse, registryError, urlErrorPrefix, type ErrorResponse } from './registry-errors.js';
import { Transport, type TransportOptions, type TransportResponse } from './transport.js';

/** A repository on a registry: `{ registry: 'docker.io', repository: 'library/busybox' }`. */
export interface Repository {
  registry: string;
  repository: string;
}

export interface ManifestResult {
  descriptor: Descriptor;
  bytes: Uint8Array;
}

export interface ManifestOptions {
  signal?: AbortSignal;
  /** The reference as Docker shows it in errors (`127.0.0.1:5001/bb:nope`); derived when absent. */
  displayRef?: string;
}

export interface FetchBlobOptions {
  /** Resume at this byte; the result says what the server honoured. */
  offset?: number;
  signal?: AbortSignal;
  /** Digest-verify the stream (for consumers other than the content store, which verifies itself). */
  verify?: boolean;
}

export interface FetchBlobResult {
  stream: Readable;
  /** The offset the stream starts at: 0 when the server ignored Range. */
  offset: number;
}

export interface RegistryClientOptions extends TransportOptions {
  /** Reopen an interrupted blob read this many times in a row without progress. */
  maxResumes?: number;
}

const MAX_TAG_PAGES = 10_000;

/**
 * Docker's familiar repository name: `busybox` for docker.io/library/busybox,
 * `127.0.0.1:5001/bb` elsewhere.
 */
export function familiarRepository(repo: Repository): string {
  if (isDockerHub(repo.registry)) {
    const p = repo.repository;
    return p.startsWith('library/') && !p.slice(8).includes('/') ? p.slice(8) : p;
  }
  return `${repo.registry}/${repo.repository}`;
}

/** `busybox:latest`, `127.0.0.1:5001/bb@sha256:…`: the form Docker uses in pull errors. */
export function familiarReference(repo: Repository, reference: string): string {
  return `${familiarRepository(repo)}${isDigest(reference) ? '@' : ':'}${reference}`;
}

/** The pull side of the OCI distribution API over one Transport. */
export class RegistryClient {
  readonly transport: Transport;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly maxResumes: number;

  constructor(o: RegistryClientOptions) {
    this.transport = new Transport(o);
    this.clock = o.clock ?? systemClock;
    this.logger = o.logger;
    this.maxResumes = o.maxResumes ?? 3;
  }

  /**
   * GET a manifest by tag or digest (Accept: every type lading handles), at most 4 MiB. By digest
   * the bytes must hash to it (DIGEST_MISMATCH). Schema 1 is refused with Docker's message.
   */
  async resolve(repo: Repository, reference: string, o: ManifestOptions = {}): Promise<ManifestResult> {
    const display = o.displayRef ?? familiarReference(repo, reference);
    const res = await this.transport.request({
      registry: repo.registry,
      repository: repo.repository,
      method: 'GET',
      path: `/v2/${repo.repository}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (res.statusCode !== 200) throw this.pullError(repo, await readErrorResponse(res), { kind: 'manifest', display });
    const len = Number(headerOf(res, 'content-length'));
    if (Number.isFinite(len) && len > MAX_MANIFEST_BYTES) {
      res.body.destroy();
      throw new LadingError('MANIFEST_INVALID', `manifest invalid: larger than ${MAX_MANIFEST_BYTES} bytes`);
    }
    const bytes = await this.readManifestBody(res, o.signal);
    const wanted = isDigest(reference) ? (reference as Digest) : undefined;
    const digest = wanted ? hashDigest(digestAlgorithm(wanted), newHasher(wanted).update(bytes)) : hashDigest('sha256', newHasher('sha256').update(bytes));
    if (wanted && digest !== wanted) {
      throw new LadingError('DIGEST_MISMATCH', `manifest verification failed for digest ${wanted}`, { detail: { expected: wanted, found: digest } });
    }
    const header = headerOf(res, 'docker-content-digest');
    if (!wanted && header && header !== digest) {
      // Many registries get this header wrong for tags (ggcr gives up on it too): note, don't fail.
      this.logger?.log('debug', 'Docker-Content-Digest disagrees with the manifest bytes', { ref: display, header, computed: digest });
    }
    const parsed = parseManifest(bytes, headerOf(res, 'content-type'));
    const mediaType = parsed.kind === 'index' ? parsed.index.mediaType : parsed.manifest.mediaType;
    return { descriptor: { mediaType, digest, size: bytes.length }, bytes };
  }

  /** GET a manifest by digest, verified against it. */
  async fetchManifest(repo: Repository, digest: string, o: ManifestOptions = {}): Promise<ManifestResult> {
    return this.resolve(repo, parseDigest(digest), o);
  }

  /**
   * GET a blob, from `offset` with `Range` when asked (206 honoured; 200 means the stream starts
   * at 0 and `offset` says so). Redirects to blob storage are followed without Authorization. A
   * connection that breaks mid-body is reopened at the current position. The stream fails as
   * soon as it passes `desc.size`; it is digest-verified only with `verify`.
   */
  async fetchBlob(repo: Repository, desc: Descriptor, o: FetchBlobOptions = {}): Promise<FetchBlobResult> {
    const offset = o.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > desc.size) {
      throw new LadingError('INVALID_ARGUMENT', `invalid offset ${offset} for blob ${desc.digest} of ${desc.size} bytes`);
    }
    if (o.verify && offset > 0) throw new LadingError('INVALID_ARGUMENT', 'a verified blob read must start at offset 0');
    if (offset > 0 && offset === desc.size) return { stream: Readable.from([], { objectMode: false }), offset };
    const path = `/v2/${repo.repository}/blobs/${desc.digest}`;
    let url = '';
    const open = async (position: number): Promise<OpenedBody> => {
      const res = await this.transport.request({
        registry: repo.registry,
        repository: repo.repository,
        method: 'GET',
        path,
        headers: position > 0 ? { range: `bytes=${position}-` } : {},
        ...(o.signal ? { signal: o.signal } : {}),
      });
      url = res.url;
      if (res.statusCode === 200) return { body: res.body, start: 0 };
      if (res.statusCode === 206) {
        const start = contentRangeStart(headerOf(res, 'content-range'));
        if (start === undefined || start > position) {
          res.body.destroy();
          throw new LadingError('UNAVAILABLE', `${urlErrorPrefix('GET', res.url)}: invalid Content-Range ${JSON.stringify(headerOf(res, 'content-range') ?? '')} for Range bytes=${position}-`);
        }
        return { body: res.body, start };
      }
      throw this.pullError(repo, await readErrorResponse(res), { kind: 'blob', display: desc.digest });
    };
    const first = await open(offset);
    const stream = resumingRead(first, open, {
      position: first.start,
      size: desc.size,
      what: desc.digest,
      get url() {
        return url;
      },
      maxResumes: this.maxResumes,
      clock: this.clock,
      signal: o.signal,
      logger: this.logger,
    });
    if (!o.verify) return { stream, offset: first.start };
    const verifier = new VerifyingStream({ digest: desc.digest, size: desc.size });
    pipeline(stream, verifier, () => {});
    return { stream: verifier, offset: 0 };
  }

  /** Every tag of a repository, following `Link: <…>; rel="next"` pages. */
  async listTags(repo: Repository, o: { signal?: AbortSignal; pageSize?: number } = {}): Promise<string[]> {
    let path = `/v2/${repo.repository}/tags/list${o.pageSize ? `?n=${o.pageSize}` : ''}`;
    const seen = new Set<string>();
    const tags: string[] = [];
    for (let page = 0; page < MAX_TAG_PAGES; page++) {
      seen.add(path);
      const res = await this.transport.request({
        registry: repo.registry,
        repository: repo.repository,
        method: 'GET',
        path,
        headers: { accept: 'application/json' },
        ...(o.signal ? { signal: o.signal } : {}),
      });
      if (res.statusCode !== 200) throw this.pullError(repo, await readErrorResponse(res), { kind: 'tags', display: familiarRepository(repo) });
      const body = await this.readManifestBody(res, o.signal, 'tag list');
      let doc: { tags?: unknown };
      try {
        doc = JSON.parse(Buffer.from(body).toString('utf8')) as { tags?: unknown };
      } catch (e) {
        throw new LadingError('UNAVAILABLE', `${urlErrorPrefix('GET', res.url)}: invalid tag list: ${(e as Error).message}`);
      }
      if (doc.tags !== null && doc.tags !== undefined && !Array.isArray(doc.tags)) throw new LadingError('UNAVAILABLE', `${urlErrorPrefix('GET', res.url)}: invalid tag list`);
      for (const t of (doc.tags as unknown[] | null | undefined) ?? []) if (typeof t === 'string') tags.push(t);
      const next = nextLink(headerOf(res, 'link'));
      if (!next) return tags;
      const abs = new URL(next, res.url).href;
      const base = res.endpoint.base;
      path = abs.startsWith(`${base}/`) ? abs.slice(base.length) : abs;
      if (seen.has(path)) return tags; // a registry looping its Link header
    }
    return tags;
  }

  /** `docker login`'s check. Returns a refresh token to store as identitytoken when one is issued. */
  verifyCredentials(registry: string, auth: AuthConfig, o: { signal?: AbortSignal } = {}): Promise<{ identityToken?: string }> {
    return this.transport.verifyCredentials(registry, auth, o);
  }

  private async readManifestBody(res: TransportResponse, signal: AbortSignal | undefined, what = 'manifest'): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const c of res.body) {
        const b = c as Buffer;
        total += b.length;
        if (total > MAX_MANIFEST_BYTES) {
          res.body.destroy();
          throw new LadingError('MANIFEST_INVALID', `${what === 'manifest' ? 'manifest invalid' : what}: larger than ${MAX_MANIFEST_BYTES} bytes`);
        }
        chunks.push(b);
      }
    } catch (e) {
      if (signal?.aborted) throw canceled(signal);
      if (e instanceof LadingError) throw e;
      throw networkError('GET', res.url, e);
    }
    return Buffer.concat(chunks, total);
  }

  /** Docker's pull wording (moby distribution/errors.go translatePullError). */
  private pullError(repo: Repository, er: ErrorResponse, ctx: { kind: 'manifest' | 'blob' | 'tags'; display: string }): RegistryError {
    const e0 = er.errors[0];
    const first = e0?.code;
    // Docker words these from the first error only and ignores the rest.
    const text0 = e0 ? errcodeString(e0) : er.text;
    const fam = familiarRepository(repo);
    if (er.status === 401 || er.status === 403 || first === 'DENIED') {
      return registryError(er, `pull access denied for ${fam}, repository does not exist or may require 'docker login': ${text0}`);
    }
    if (first === 'NAME_UNKNOWN') return registryError(er, `repository ${fam} not found: ${text0}`, { code: 'NOT_FOUND' });
    if (ctx.kind === 'manifest' && (first === 'MANIFEST_UNKNOWN' || (er.status === 404 && er.errors.length === 0))) {
      const text = e0 ? text0 : 'manifest unknown: manifest unknown';
      return registryError(er, `manifest for ${ctx.display} not found: ${text}`, { code: 'NOT_FOUND' });
    }
    if (ctx.kind === 'tags' && er.status === 404 && er.errors.length === 0) {
      return registryError(er, `repository ${fam} not found: name unknown: repository name not known to registry`, { code: 'NOT_FOUND' });
    }
    if (ctx.kind === 'blob' && er.status === 404) {
      const text = e0 ? text0 : 'blob unknown: blob unknown to registry';
      return registryError(er, `blob ${ctx.display} not found: ${text}`, { code: 'NOT_FOUND' });
    }
    return registryError(er, er.text, { code: er.temporary ? 'UNAVAILABLE' : er.code });
  }
}

function headerOf(res: { headers: Record<string, string | string[] | undefined> }, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `bytes 100-199/200` -> 100. */
export function contentRangeStart(h: string | undefined): number | undefined {
  const m = h ? /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(h.trim()) : null;
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  return Number.isSafeInteger(start) && end >= start ? start : undefined;
}

/** The `rel="next"` target of a Link header (RFC 8288), as distribution sends for paging. */
export function nextLink(h: string | undefined): string | undefined {
  if (!h) return undefined;
  for (const m of h.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const params = m[2] ?? '';
    if (/;\s*rel\s*=\s*"?(?:[^";]*\s)?next(?:\s[^";]*)?"?/i.test(params)) return m[1];
  }
  return undefined;
}
