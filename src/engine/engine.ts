import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { LadingError } from '../errors/index.js';
import { FsContentStore } from '../content/index.js';
import { DEFAULT_ROOTS, openDatabase, type Db, type RootSource } from '../metadata/index.js';
import type { DockerConfigCredentials, RegistryClient } from '../remote/index.js';
import { createSnapshotter } from '../snapshot/index.js';
import { parseReference, withDefaultTag, type Reference } from '../reference/index.js';
import type { Digest, Platform } from '../oci/index.js';
import {
  ImageStore,
  pullImage,
  listImages,
  listImageRows,
  imageRowColumns,
  inspectImage,
  readImageTree,
  type ImageInspect,
  type ImageRowColumns,
  type ListedImage,
  type OnProgress,
  type PullResult,
  type TreeEntry,
  filterImages,
  removeImages,
  pruneImages,
  tagImage,
  touchImage,
  imageHistory,
  diskUsage,
  checkStore,
  findImage,
  type ImageFilters,
  type ManageDeps,
  type RmiResult,
  type PruneOptions,
  type PruneResult,
  type HistoryItem,
  type DiskUsage,
  type CheckResult,
  type RemoveOptions,
} from '../images/index.js';
import { Semaphore, systemClock, type Clock } from '../util/index.js';
import type { Config } from './config.js';
import type { TransferMethods } from './transfer.js';

export interface Engine extends TransferMethods {
  readonly config: Config;
  /** Pull NAME[:TAG|@DIGEST] into the store. */
  pull(ref: string | Reference, o?: { platform?: Platform; signal?: AbortSignal; onProgress?: OnProgress }): Promise<PullResult>;
  /**
   * Images with their references, filtered as `docker images` filters (rows are the caller's).
   * Without `all`, untagged intermediate images are hidden.
   */
  listImages(o?: { all?: boolean; filters?: ImageFilters }): ListedImage[];
  /**
   * The rows `docker images` prints for the same selection, column-wise: no object per row or
   * reference, for stores of tens of thousands of tags. `digests`: a row per digest (--digests).
   */
  listImageRows(o?: { all?: boolean; filters?: ImageFilters; digests?: boolean }): ImageRowColumns;
  /** docker tag SOURCE TARGET. */
  tag(source: string, target: string): void;
  /** docker rmi, one result per name in order; `dryRun` rolls everything back and reports the same. */
  removeImages(names: readonly string[], o?: RemoveOptions & { dryRun?: boolean }): Promise<{ results: RmiResult[]; bytes: number }>;
  /** docker image prune, plus --unused-for, --keep-storage and --dry-run. */
  pruneImages(o?: PruneOptions): Promise<PruneResult>;
  /** docker history. */
  history(name: string): HistoryItem[];
  /** docker system df: sizes from the layer graph. */
  diskUsage(): DiskUsage;
  /** lading system check [--repair]. */
  checkStore(o?: { repair?: boolean; signal?: AbortSignal }): Promise<CheckResult>;
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
  /** More GC roots and image users besides references and leases (containers). */
  roots?: readonly RootSource[];
}

const USER_AGENT = `lading/0.1.0 node/${process.versions.node}`;

/** The composition root: builds the stores, transport and limits from config and wires them. */
export function createEngine(config: Config, o: EngineOptions = {}): Engine {
  // From plain JavaScript a settings object ({ root }) reaches here too: say what is expected.
  if (typeof config?.root !== 'string' || !Array.isArray(config.insecureRegistries)) {
    throw new LadingError('INVALID_ARGUMENT', 'createEngine takes a resolved configuration: createEngine(resolveConfig({ flags: { root } }))');
  }
  const clock = o.clock ?? systemClock;
  mkdirSync(config.root, { recursive: true, mode: 0o700 });
  const db: Db = openDatabase(join(config.root, 'lading.db'), { clock });
  const content = new FsContentStore(join(config.root, 'content'), { clock });
  const snapshotter = createSnapshotter(join(config.root, 'snapshots'), { kind: config.snapshotter });
  const limits = new Map<string, Semaphore>();
  // The registry client and HTTP stack load only when a command talks to a registry: listing and
  // removing images must not pay undici's and the client's start-up (most of `lading images`).
  let agent: Agent | undefined;
  let credentialsP: Promise<DockerConfigCredentials> | undefined;
  const getCredentials = (): Promise<DockerConfigCredentials> =>
    (credentialsP ??= import('../remote/index.js').then((r) => new r.DockerConfigCredentials({ configDir: config.dockerConfigDir })));
  let remoteP: Promise<RegistryClient> | undefined;
  const getRemote = (): Promise<RegistryClient> =>
    (remoteP ??= Promise.all([import('./http-agent.js'), import('../remote/index.js'), getCredentials()]).then(([{ createHttpAgent }, r, credentials]) => {
      agent = createHttpAgent({ keepAliveTimeout: 30_000, connections: 16 });
      const hosts = new r.RegistryHosts({ mirrors: { ...config.registryMirrors } as Record<string, string[]>, insecure: [...config.insecureRegistries] });
      return new r.RegistryClient({ agent, credentials, hosts, clock, userAgent: USER_AGENT });
    }));
  let storeP: Promise<ImageStore> | undefined;
  const getStore = (): Promise<ImageStore> =>
    (storeP ??= getRemote().then(
      (remote) =>
        new ImageStore({
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
        }),
    ));
  let transferP: Promise<TransferMethods> | undefined;
  const transfer = (): Promise<TransferMethods> =>
    (transferP ??= Promise.all([import('./transfer.js'), getStore(), getRemote()]).then(([t, store, remote]) =>
      t.transferMethods({ config, db, content, store, remote, agent: agent! }),
    ));
  const manage: ManageDeps = { db, content, snapshotter, roots: [...DEFAULT_ROOTS, ...(o.roots ?? [])], now: () => clock.now() };

  const toRef = (r: string | Reference): Reference => withDefaultTag(typeof r === 'string' ? parseReference(r) : r);
  let closed = false;

  return {
    // Push, save, load, import and copy load with the registry client, on first use.
    push: async (ref, po) => (await transfer()).push(ref, po),
    save: async (names, out, so) => (await transfer()).save(names, out, so),
    load: async (input, lo) => (await transfer()).load(input, lo),
    inventory: async () => (await transfer()).inventory(),
    copy: async (src, dst, co) => (await transfer()).copy(src, dst, co),
    importImage: async (source, io) => (await transfer()).importImage(source, io),
    config,
    pull: async (ref, po = {}) => pullImage(await getStore(), toRef(ref), po),
    listImages: (lo = {}) =>
      filterImages(listImages(db), lo.filters ?? {}, { all: lo.all === true, now: clock.now(), resolve: (name) => findImage(db, name) }),
    listImageRows: (lo = {}) => {
      const all = lo.all === true;
      const digests = lo.digests === true;
      const filters = lo.filters ?? {};
      if (Object.keys(filters).length === 0) return listImageRows(db, { all, digests });
      return imageRowColumns(filterImages(listImages(db), filters, { all, now: clock.now(), resolve: (name) => findImage(db, name) }), { digests });
    },
    inspectImage: (name) => {
      const view = inspectImage(db, content, name, { graphDriver: snapshotter.kind });
      touchImage(manage, view.Id as Digest);
      return view;
    },
    tag: (source, target) => tagImage(manage, source, target),
    removeImages: (names, ro = {}) => removeImages(manage, names, ro),
    pruneImages: (po = {}) => pruneImages(manage, po),
    history: (name) => imageHistory(db, content, name),
    diskUsage: () => diskUsage(db, manage.roots),
    checkStore: (co = {}) => checkStore(manage, co),
    readImageTree: (name) => readImageTree(db, snapshotter, name),
    login: async (server, auth, lo = {}) => {
      const registry = server ? normalizeServer(server) : 'docker.io';
      await (await getRemote()).verifyCredentials(registry, auth, lo.signal ? { signal: lo.signal } : {});
      await (await getCredentials()).storeCredentials(registry, auth);
    },
    logout: async (server) => (await getCredentials()).eraseCredentials(server ? normalizeServer(server) : 'docker.io'),
    close: () => {
      if (closed) return;
      closed = true;
      db.close();
      void agent?.close();
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
