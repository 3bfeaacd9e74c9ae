import type { Readable } from 'node:stream';
import { LadingError, RegistryError, canceled, isCode, redact } from '../errors/index.js';
import type { Descriptor, Digest } from '../oci/index.js';
import { ChunkReader } from './chunk-reader.js';
import type { Repository } from './client.js';
import type { Logger } from './logger.js';
import { readErrorResponse, urlErrorPrefix } from './registry-errors.js';
import type { Transport, TransportResponse } from './transport.js';
import { MemoryUploadStates, type UploadKey, type UploadStates } from './upload-state.js';

/** A blob body opened at a byte offset (a resume reopens it further on). */
export type OpenBlob = (offset: number) => Promise<Readable>;

export interface PushBlobOptions {
  signal?: AbortSignal;
  /** Bytes the registry holds so far, and the blob's size. */
  onProgress?: (current: number, total: number) => void;
  /** An upload the caller already started (a mount that answered 202). */
  location?: string;
}

export interface PushBlobResult {
  /** Bytes sent in this call (less than the size when an upload was resumed). */
  sent: number;
  /** Offset an earlier upload was resumed at (0 for a fresh one). */
  resumedAt: number;
}

export interface MountResult {
  mounted: boolean;
  /** The registry started an upload instead of mounting: push the blob there. */
  location?: string;
}

export interface PusherOptions {
  transport: Transport;
  /** Where unfinished uploads are remembered between runs (default: in memory only). */
  uploads?: UploadStates;
  /** Large blobs go up in PATCH chunks of this size, each a resume point (default 64 MiB). */
  chunkSize?: number;
  /** Blobs up to this size go in one PUT, not resumable (default the smaller of 8 MiB and chunkSize). */
  monolithicMax?: number;
  logger?: Logger;
}

const DEFAULT_CHUNK = 64 * 1024 * 1024;
const DEFAULT_MONOLITHIC = 8 * 1024 * 1024;

const header = (res: { headers: Record<string, string | string[] | undefined> }, name: string): string | undefined => {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** `0-1023` (distribution's upload Range header) -> 1024 bytes held; `0-0` is ambiguous and read as 0 or 1 by the caller. */
export function uploadRangeEnd(h: string | undefined): number | undefined {
  const m = h ? /^(?:bytes=)?0-(\d+)$/.exec(h.trim()) : null;
  return m ? Number(m[1]) + 1 : undefined;
}

/**
 * The push side of the distribution API (containerd's Pusher, ggcr's writer): HEAD a blob, mount
 * it across repositories, upload it (one PUT for small blobs, PATCH chunks for large ones, resumed
 * from the offset the registry reports for an upload remembered from an earlier run), PUT manifests.
 * Bodies are streams opened at an offset; nothing here touches the local store.
 */
export class RegistryPusher {
  private readonly transport: Transport;
  private readonly uploads: UploadStates;
  private readonly chunkSize: number;
  private readonly monolithicMax: number;
  private readonly logger: Logger | undefined;

  constructor(o: PusherOptions) {
    this.transport = o.transport;
    this.uploads = o.uploads ?? new MemoryUploadStates();
    this.chunkSize = Math.max(64 * 1024, o.chunkSize ?? DEFAULT_CHUNK);
    this.monolithicMax = Math.min(this.chunkSize, o.monolithicMax ?? DEFAULT_MONOLITHIC);
    this.logger = o.logger;
  }

  private req(repo: Repository, r: Omit<Parameters<Transport['request']>[0], 'registry' | 'repository' | 'actions'> & { scopes?: string[] }): Promise<TransportResponse> {
    return this.transport.request({ registry: repo.registry, repository: repo.repository, actions: ['pull', 'push'], mirrors: false, ...r });
  }

  /** HEAD the blob: true when the repository already has it. */
  async exists(repo: Repository, d: Descriptor, o: { signal?: AbortSignal } = {}): Promise<boolean> {
    const res = await this.req(repo, { method: 'HEAD', path: `/v2/${repo.repository}/blobs/${d.digest}`, ...(o.signal ? { signal: o.signal } : {}) });
    await res.body.dump().catch(() => {});
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw this.pushError(await readErrorResponse(res));
  }

  /** Cross-repository mount (`POST …/uploads/?mount=&from=`). 201: mounted; 202: an upload to use instead. */
  async mount(repo: Repository, d: Descriptor, from: string, o: { signal?: AbortSignal } = {}): Promise<MountResult> {
    const q = new URLSearchParams({ mount: d.digest, from });
    const res = await this.req(repo, {
      method: 'POST',
      path: `/v2/${repo.repository}/blobs/uploads/?${q.toString()}`,
      scopes: [`repository:${from}:pull`],
      headers: { 'content-length': '0' },
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (res.statusCode === 201) {
      await res.body.dump().catch(() => {});
      return { mounted: true };
    }
    if (res.statusCode === 202) {
      await res.body.dump().catch(() => {});
      const loc = header(res, 'location');
      return loc ? { mounted: false, location: new URL(loc, res.url).href } : { mounted: false };
    }
    throw this.pushError(await readErrorResponse(res));
  }

  /**
   * Upload a blob. An upload remembered for (registry, repository, digest) is asked for its offset
   * (GET on its URL) and continued from there; one the registry no longer knows starts over.
   */
  async pushBlob(repo: Repository, d: Descriptor, open: OpenBlob, o: PushBlobOptions = {}): Promise<PushBlobResult> {
    const key: UploadKey = { registry: repo.registry, repository: repo.repository, digest: d.digest };
    const { signal } = o;
    let location = o.location;
    let offset = 0;
    let resumedAt = 0;
    if (!location) {
      const saved = await this.uploads.get(key);
      if (saved) {
        const st = await this.uploadStatus(repo, saved.url, signal);
        if (st && st.offset <= d.size) {
          location = st.location;
          offset = st.offset;
          resumedAt = offset;
          this.logger?.log('debug', 'resuming blob upload', { digest: d.digest, offset });
        } else {
          await this.uploads.delete(key);
        }
      }
    }
    if (!location) location = await this.startUpload(repo, signal);
    o.onProgress?.(offset, d.size);

    // Small blobs, fresh: one PUT with the whole body (Docker's and containerd's way).
    if (offset === 0 && d.size <= this.monolithicMax) {
      await this.finish(repo, location, d, { size: d.size, open: () => open(0) }, signal);
      o.onProgress?.(d.size, d.size);
      await this.uploads.delete(key);
      return { sent: d.size, resumedAt: 0 };
    }

    let sent = 0;
    let source: ChunkReader | undefined;
    let at = offset;
    try {
      while (offset < d.size) {
        if (!source || at !== offset) {
          source?.destroy();
          source = new ChunkReader(await open(offset), (n) => {
            sent += n;
            o.onProgress?.(Math.min(d.size, offset + n), d.size);
          });
          at = offset;
        }
        const n = Math.min(this.chunkSize, d.size - offset);
        const body = source.next(n);
        const res = await this.req(repo, {
          method: 'PATCH',
          path: location,
          headers: {
            'content-type': 'application/octet-stream',
            'content-length': String(n),
            'content-range': `${offset}-${offset + n - 1}`,
          },
          body: () => body,
          ...(signal ? { signal } : {}),
        });
        if (res.statusCode !== 202 && res.statusCode !== 204) {
          body.destroy();
          throw this.pushError(await readErrorResponse(res));
        }
        await res.body.dump().catch(() => {});
        const loc = header(res, 'location');
        if (loc) location = new URL(loc, res.url).href;
        const held = uploadRangeEnd(header(res, 'range')) ?? offset + n;
        at = offset + n;
        offset = held;
        await this.uploads.set(key, { url: location, offset, updatedAt: Date.now() });
        o.onProgress?.(offset, d.size);
      }
    } catch (e) {
      if (signal?.aborted) throw canceled(signal);
      throw e;
    } finally {
      source?.destroy();
    }
    await this.finish(repo, location, d, undefined, signal);
    await this.uploads.delete(key);
    return { sent, resumedAt };
  }

  /** PUT a manifest (or index) under a tag or its digest; returns the digest the registry reports. */
  async pushManifest(repo: Repository, reference: string, bytes: Uint8Array, mediaType: string, o: { signal?: AbortSignal } = {}): Promise<Digest | undefined> {
    const res = await this.req(repo, {
      method: 'PUT',
      path: `/v2/${repo.repository}/manifests/${reference}`,
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: bytes,
      // A manifest PUT names its content: sending it again is harmless.
      idempotent: true,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (res.statusCode !== 201 && res.statusCode !== 200 && res.statusCode !== 202) throw this.pushError(await readErrorResponse(res));
    await res.body.dump().catch(() => {});
    return header(res, 'docker-content-digest') as Digest | undefined;
  }

  private async startUpload(repo: Repository, signal: AbortSignal | undefined): Promise<string> {
    const res = await this.req(repo, {
      method: 'POST',
      path: `/v2/${repo.repository}/blobs/uploads/`,
      headers: { 'content-length': '0' },
      ...(signal ? { signal } : {}),
    });
    if (res.statusCode !== 202) throw this.pushError(await readErrorResponse(res));
    await res.body.dump().catch(() => {});
    const loc = header(res, 'location');
    if (!loc) throw new LadingError('UNAVAILABLE', `${urlErrorPrefix('POST', res.url)}: upload started without a Location`);
    return new URL(loc, res.url).href;
  }

  /** GET on an upload URL: where the registry stands, or undefined when it no longer knows the upload. */
  private async uploadStatus(repo: Repository, url: string, signal: AbortSignal | undefined): Promise<{ location: string; offset: number } | undefined> {
    let res: TransportResponse;
    try {
      res = await this.req(repo, { method: 'GET', path: url, ...(signal ? { signal } : {}) });
    } catch (e) {
      if (isCode(e, 'CANCELED')) throw e;
      return undefined;
    }
    if (res.statusCode !== 204 && res.statusCode !== 200) {
      // 404 BLOB_UPLOAD_UNKNOWN (expired, cancelled); 400 BLOB_UPLOAD_INVALID (distribution refuses
      // state tokens whose offset disagrees with the data it holds): start over.
      const er = await readErrorResponse(res);
      this.logger?.log('debug', 'remembered upload is gone, starting over', { status: er.status, error: er.text });
      return undefined;
    }
    await res.body.dump().catch(() => {});
    const loc = header(res, 'location');
    const end = uploadRangeEnd(header(res, 'range'));
    if (end === undefined) return undefined;
    // "0-0" means nothing (distribution) or one byte; one byte resent costs nothing, so read it as 0.
    const offset = header(res, 'range')?.trim().endsWith('0-0') ? 0 : end;
    return { location: loc ? new URL(loc, res.url).href : url, offset };
  }

  /** The closing PUT `?digest=`, with the whole body (monolithic) or none (after PATCHes). */
  private async finish(
    repo: Repository,
    location: string,
    d: Descriptor,
    body: { size: number; open: () => Promise<Readable> } | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const u = new URL(location);
    u.searchParams.set('digest', d.digest);
    const res = await this.req(repo, {
      method: 'PUT',
      path: u.href,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(body?.size ?? 0) },
      ...(body ? { body: body.open } : {}),
      ...(signal ? { signal } : {}),
    });
    if (res.statusCode !== 201 && res.statusCode !== 204 && res.statusCode !== 200) throw this.pushError(await readErrorResponse(res));
    await res.body.dump().catch(() => {});
  }

  /** Docker prints the registry's errcode text (`manifest invalid: manifest invalid`); the codes stay on the error. */
  private pushError(er: Awaited<ReturnType<typeof readErrorResponse>>): RegistryError {
    // Push errors arrive inside Docker's progress stream and print without the daemon prefix.
    return new RegistryError(er.temporary ? 'UNAVAILABLE' : er.code, redact(er.text), {
      status: er.status,
      errors: er.errors,
      temporary: er.temporary,
      detail: { bare: true, registryCodes: er.errors.map((x) => x.code) },
    });
  }
}
