import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { LadingError } from '../errors/index.js';
import { FsContentStore } from '../content/index.js';
import { openDatabase, type Db } from '../metadata/index.js';
import { DockerConfigCredentials, RegistryClient, RegistryHosts } from '../remote/index.js';
import { createSnapshotter } from '../snapshot/index.js';
import { parseReference, withDefaultTag, type Reference } from '../reference/index.js';
import type { Platform } from '../oci/index.js';
import {
  ImageStore,
  pullImage,
  listImages,
  inspectImage,
  readImageTree,
  type ImageInspect,
  type ListedImage,
  type OnProgress,
  type PullResult,
  type TreeEntry,
} from '../images/index.js';
import { Semaphore, systemClock, type Clock } from '../util/index.js';
import type { Config } from './config.js';
import { transferMethods, type TransferMethods } from './transfer.js';

export interface Engine extends TransferMethods {
  readonly config: Config;
  /** Pull NAME[:TAG|@DIGEST] into the store. */
  pull(ref: string | Reference, o?: { platform?: Platform; signal?: AbortSignal; onProgress?: OnProgress }): Promise<PullResult>;
  /** Every image with its references (filtering and rows are the caller's). */
  listImages(): ListedImage[];
  /** Docker's inspect object; NOT_FOUND "No such image: …". */
  inspectImage(name: string): ImageInspect;
  /** The image's layers merged into one filesystem view (top layer wins, whiteouts honoured). */
  readImageTree(name: string): Promise<Map<string, TreeEntry>>;
  /** Check credentials against the registry and store them (docker login). */
  login(server: string | undefined, auth: { username: string; password: string }, o?: { signal?: AbortSignal }): Promise<void>;
  /** Forget stored credentials; false when there were none. */
  logout(server: string | undefined): Promise<boolean>;
  close(): void;
}

export interface EngineOptions {
  clock?: Clock;
}

const USER_AGENT = `lading/0.1.0 node/${process.versions.node}`;

/** The composition root: builds the stores, transport and limits from config and wires them. */
export function createEngine(config: Config, o: EngineOptions = {}): Engine {
  const clock = o.clock ?? systemClock;
  mkdirSync(config.root, { recursive: true, mode: 0o700 });
  const db: Db = openDatabase(join(config.root, 'lading.db'), { clock });
  const content = new FsContentStore(join(config.root, 'content'), { clock });
  const snapshotter = createSnapshotter(join(config.root, 'snapshots'), { kind: config.snapshotter });
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 16 });
  const credentials = new DockerConfigCredentials({ configDir: config.dockerConfigDir });
  const hosts = new RegistryHosts({ mirrors: { ...config.registryMirrors } as Record<string, string[]>, insecure: [...config.insecureRegistries] });
  const remote = new RegistryClient({ agent, credentials, hosts, clock, userAgent: USER_AGENT });
  const limits = new Map<string, Semaphore>();
  const store = new ImageStore({
    db,
    content,
    snapshotter,
    remote,
    clock,
    asRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    skipUnpack: config.pullWithoutUnpack,
    ingestResumeWindowMs: config.ingestResumeWindowMs,
    downloadLimit: (registry) => {
      let s = limits.get(registry);
      if (!s) limits.set(registry, (s = new Semaphore(config.maxConcurrentDownloads)));
      return s;
    },
  });

  const toRef = (r: string | Reference): Reference => withDefaultTag(typeof r === 'string' ? parseReference(r) : r);
  let closed = false;

  return {
    ...transferMethods({ config, db, content, store, remote, agent }),
    config,
    pull: (ref, po = {}) => pullImage(store, toRef(ref), po),
    listImages: () => listImages(db),
    inspectImage: (name) => inspectImage(db, content, name, { graphDriver: snapshotter.kind }),
    readImageTree: (name) => readImageTree(db, snapshotter, name),
    login: async (server, auth, lo = {}) => {
      const registry = server ? normalizeServer(server) : 'docker.io';
      await remote.verifyCredentials(registry, auth, lo.signal ? { signal: lo.signal } : {});
      await credentials.storeCredentials(registry, auth);
    },
    logout: async (server) => credentials.eraseCredentials(server ? normalizeServer(server) : 'docker.io'),
    close: () => {
      if (closed) return;
      closed = true;
      db.close();
      void agent.close();
    },
  };
}

/** `https://host:port/v1/` or `host:port` → `host:port`; Hub aliases → docker.io. */
function normalizeServer(s: string): string {
  let h = s.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (h === 'index.docker.io' || h === 'registry-1.docker.io' || h === 'docker.io') h = 'docker.io';
  if (!h) throw new LadingError('INVALID_ARGUMENT', `invalid registry address ${JSON.stringify(s)}`);
  return h;
}
