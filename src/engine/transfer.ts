import { join } from 'node:path';
import type { ContentStore } from '../content/index.js';
import type { Db } from '../metadata/index.js';
import { FileUploadStates, RegistryPusher, type RegistryClient } from '../remote/index.js';
import { parseReference, type Reference } from '../reference/index.js';
import type { Readable, Writable } from 'node:stream';
import {
  LocalImages,
  inventory,
  loadImages,
  pushImage,
  saveImages,
  type ImageStore,
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
  inventory(): string[];
}

export interface TransferDeps {
  config: Config;
  db: Db;
  content: ContentStore;
  store: ImageStore;
  remote: RegistryClient;
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
    inventory: () => inventory(local),
  };
}
