import { join } from 'node:path';
import type { ContentStore } from '../content/index.js';
import type { Db } from '../metadata/index.js';
import { FileUploadStates, RegistryPusher, type RegistryClient } from '../remote/index.js';
import { parseReference, type Reference } from '../reference/index.js';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { LadingError } from '../errors/index.js';
import {
  LocalImages,
  copyImage,
  parseLocation,
  importImage,
  inventory,
  loadImages,
  pushImage,
  saveImages,
  type CopyOptions,
  type ImageLocation,
  type ImageStore,
  type ImportOptions,
  type LoadOptions,
  type LoadedImage,
  type PushOptions,
  type PushedTag,
  type SaveOptions,
  type SaveResult,
} from '../images/index.js';
import { Semaphore } from '../util/index.js';
import type { Config } from './config.js';

/** Moving images through registries and files: push, save, load, import, copy, inventory. */
export interface TransferMethods {
  /** Push NAME[:TAG] (or every tag with allTags) to its registry. */
  push(ref: string | Reference, o?: PushOptions): Promise<PushedTag[]>;
  /** Write images as a docker-archive that is also an OCI layout (`docker save`). */
  save(names: string[], out: Writable, o?: SaveOptions): Promise<SaveResult>;
  /** Load a docker-archive or OCI layout tar (plain, gzip or zstd); all or nothing. */
  load(input: Readable, o?: LoadOptions): Promise<LoadedImage[]>;
  /** Digests of every blob in the store, for `save --have` on another machine. */
  inventory(): Promise<string[]>;
  /**
   * `docker import`: a rootfs tar from a stream, a file path, an http(s) URL, or `-` with `stdin`,
   * becomes a one-layer image. Returns the image ID.
   */
  /** `image copy SRC DST`: registry ref, `local:NAME`, `oci:DIR[:TAG]`, `docker-archive:FILE`. */
  copy(src: string | ImageLocation, dst: string | ImageLocation, o?: CopyOptions): Promise<string>;
  importImage(source: Readable | string, o?: Omit<ImportOptions, 'source' | 'reference'> & { reference?: string | Reference; stdin?: Readable }): Promise<string>;
}

export interface TransferDeps {
  config: Config;
  db: Db;
  content: ContentStore;
  store: ImageStore;
  remote: RegistryClient;
  agent: Dispatcher;
}

export function transferMethods(d: TransferDeps): TransferMethods {
  const local = new LocalImages(d.store, d.db, d.content);
  // Unfinished uploads live beside the store so the next `lading push` finds them.
  const pusher = new RegistryPusher({
    transport: d.remote.transport,
    uploads: new FileUploadStates(join(d.config.root, 'uploads')),
    chunkSize: d.config.pushChunkSize,
  });
  const limits = new Map<string, Semaphore>();
  const uploadLimit = (registry: string): Semaphore => {
    let s = limits.get(registry);
    if (!s) limits.set(registry, (s = new Semaphore(d.config.maxConcurrentUploads)));
    return s;
  };
  const toRef = (r: string | Reference): Reference => (typeof r === 'string' ? parseReference(r) : r);
  return {
    push: (ref, o = {}) => pushImage({ local, pusher, uploadLimit }, toRef(ref), o),
    save: (names, out, o = {}) => saveImages(local, names, out, o),
    load: async (input, o = {}) => {
      await d.store.repair();
      return loadImages(local, input, o);
    },
    inventory: async () => inventory(local),
    copy: async (src, dst, o = {}) => {
      const loc = (x: string | ImageLocation) => (typeof x === 'string' ? parseLocation(x) : x);
      const s = loc(src);
      const t = loc(dst);
      if (s.kind === 'local' || t.kind === 'local') await d.store.repair();
      return copyImage({ local, remote: d.remote, pusher }, s, t, o);
    },
    importImage: async (source, o = {}) => {
      const { stdin, reference, ...rest } = o;
      let input: Readable;
      let shown = '-';
      if (typeof source !== 'string') input = source;
      else if (source === '-') {
        if (!stdin) throw new LadingError('INVALID_ARGUMENT', 'import from - needs a stdin stream');
        input = stdin;
      } else if (/^https?:\/\//i.test(source)) {
        input = await fetchUrl(d.agent, source, o.signal);
        shown = source;
      } else {
        await stat(source).catch((e: NodeJS.ErrnoException) => {
          throw new LadingError('INVALID_ARGUMENT', `open ${source}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`, { detail: { bare: true } });
        });
        input = createReadStream(source, { highWaterMark: 1024 * 1024 });
      }
      return importImage(local, input, { ...rest, source: shown, ...(reference ? { reference: toRef(reference) } : {}) });
    },
  };
}

/** GET a rootfs tarball over http(s), following redirects; Docker's wording on failure. */
async function fetchUrl(agent: Dispatcher, url: string, signal: AbortSignal | undefined): Promise<Readable> {
  const { redirectInterceptor } = await import('./http-agent.js');
  const res = await agent
    .compose(redirectInterceptor({ maxRedirections: 10 }))
    .request({ origin: new URL(url).origin, path: new URL(url).pathname + new URL(url).search, method: 'GET', ...(signal ? { signal } : {}) })
    .catch((e: unknown) => {
      throw new LadingError('UNAVAILABLE', `Get "${url}": ${(e as Error).message}`, { cause: e });
    });
  if (res.statusCode >= 400) {
    await res.body.dump().catch(() => {});
    throw new LadingError('UNAVAILABLE', `Get "${url}": unexpected status ${res.statusCode}`);
  }
  return res.body;
}
