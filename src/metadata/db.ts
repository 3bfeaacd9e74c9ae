import Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { LadingError } from '../errors/index.js';
import type { Clock } from '../util/index.js';
import { MIGRATIONS } from './migrations.js';

/** Positional (`?`) or named (`@name`) parameters, as better-sqlite3 binds them. */
export type SqlParam = string | number | bigint | Buffer | null | Record<string, unknown>;

/**
 * One open transaction. Every repository function takes it as its first argument, so a caller can
 * group several changes atomically. It is only valid inside the `db.tx`/`db.read` callback that
 * received it: using it afterwards (e.g. after an `await`) throws INTERNAL.
 */
export interface Tx {
  /** The clock's time when the transaction began (unix ms); repositories default `now` to it. */
  readonly now: number;
  /** False inside `db.read`: writes throw, except to this connection's `temp.` tables. */
  readonly writable: boolean;
  run(sql: string, ...params: SqlParam[]): { changes: number };
  get<T>(sql: string, ...params: SqlParam[]): T | undefined;
  all<T>(sql: string, ...params: SqlParam[]): T[];
  /**
   * Rows as arrays of column values, in SELECT order: no object (and no key lookups) per row,
   * for listings that read tens of thousands of rows.
   */
  raw<T extends unknown[]>(sql: string, ...params: SqlParam[]): T[];
}

export interface Db {
  readonly path: string;
  /**
   * Run `fn` in one `BEGIN IMMEDIATE` transaction: the write lock is taken up front, so two
   * processes never both hold a read snapshot and then fail to upgrade (SQLITE_BUSY that
   * busy_timeout cannot wait out). Synchronous: `fn` must not await (a returned promise rolls back
   * and throws). A throw rolls back. Nested calls become savepoints of the outer transaction.
   */
  tx<T>(fn: (tx: Tx) => T): T;
  /** A read-only deferred transaction: a consistent snapshot that never blocks or waits on writers (WAL). */
  read<T>(fn: (tx: Tx) => T): T;
  close(): void;
}

export interface OpenDatabaseOptions {
  clock?: Pick<Clock, 'now'>;
  /** How long a writer waits for another process's write lock before UNAVAILABLE. */
  busyTimeoutMs?: number;
  signal?: AbortSignal;
}

type Statement = Database.Statement<unknown[], unknown>;

// Scratch writes to this connection's TEMP tables never touch the shared file, so they are
// allowed in read transactions (GC's mark for a removal plan or a dry run).
const TEMP_WRITE = /^\s*(?:INSERT(?:\s+OR\s+IGNORE)?\s+INTO|DELETE\s+FROM)\s+temp\./i;

class TxImpl implements Tx {
  active = true;
  constructor(
    private readonly stmt: (sql: string) => Statement,
    private readonly rawStmt: (sql: string) => Statement,
    readonly now: number,
    readonly writable: boolean,
  ) {}

  private check(): void {
    if (!this.active) {
      throw new LadingError('INTERNAL', 'transaction used after it ended (an await inside db.tx?)');
    }
  }

  run(sql: string, ...params: SqlParam[]): { changes: number } {
    this.check();
    if (!this.writable && !TEMP_WRITE.test(sql)) throw new LadingError('INTERNAL', 'write inside a read-only transaction');
    return { changes: this.stmt(sql).run(...params).changes };
  }

  get<T>(sql: string, ...params: SqlParam[]): T | undefined {
    this.check();
    return this.stmt(sql).get(...params) as T | undefined;
  }

  all<T>(sql: string, ...params: SqlParam[]): T[] {
    this.check();
    return this.stmt(sql).all(...params) as T[];
  }

  raw<T extends unknown[]>(sql: string, ...params: SqlParam[]): T[] {
    this.check();
    return this.rawStmt(sql).all(...params) as T[];
  }
}

const isBusy = (e: unknown): boolean =>
  e instanceof Database.SqliteError && (e.code.startsWith('SQLITE_BUSY') || e.code.startsWith('SQLITE_LOCKED'));

const napCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Run `fn`, retrying while SQLite answers BUSY, until `timeoutMs` has passed. busy_timeout
 * covers most waits, but SQLite returns some BUSY codes at once without calling the busy
 * handler (WAL recovery, a journal-mode switch on a store another process is creating); two
 * CLI processes starting together must queue for those too. Callers retry only what is safe to
 * run again: opening, and transactions (rolled back before the retry).
 */
function retryBusy<T>(fn: () => T, timeoutMs: number): T {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return fn();
    } catch (e) {
      if (!isBusy(e) || Date.now() >= deadline) throw e;
      // Synchronous like the rest of the store API; short, jittered naps.
      Atomics.wait(napCell, 0, 0, Math.min(100, 5 * 2 ** Math.min(attempt, 5)) + Math.random() * 10);
    }
  }
}

/** Map SQLite failures to the error vocabulary; application errors pass through untouched. */
function mapSqliteError(e: unknown, path: string): unknown {
  if (!(e instanceof Database.SqliteError)) return e;
  if (e.code.startsWith('SQLITE_BUSY') || e.code.startsWith('SQLITE_LOCKED')) {
    return new LadingError('UNAVAILABLE', `metadata database is locked: ${path}`, {
      cause: e,
      hint: 'another lading process holds the store for too long; retry',
    });
  }
  return new LadingError('INTERNAL', `metadata database: ${e.message}`, { cause: e, detail: { sqliteCode: e.code } });
}

// Per-connection scratch tables for GC marking; TEMP so they never touch the shared file.
const TEMP_TABLES = `
  CREATE TEMP TABLE IF NOT EXISTS gc_images (id TEXT PRIMARY KEY) WITHOUT ROWID;
  CREATE TEMP TABLE IF NOT EXISTS gc_blobs (digest TEXT PRIMARY KEY) WITHOUT ROWID;
  CREATE TEMP TABLE IF NOT EXISTS gc_snapshots (chain_id TEXT PRIMARY KEY) WITHOUT ROWID;
`;

let addonPath: string | null | undefined;
/**
 * better-sqlite3's compiled addon by path (where npm's install or prebuild puts it). Without one
 * it finds it through the \`bindings\` package, which probes a dozen paths and parses a stack
 * trace (~2-3 ms of every command), and which cannot find it from the CLI's bundle. undefined
 * (the package's own search) for a build that lives elsewhere.
 */
function nativeAddon(): string | undefined {
  if (addonPath === undefined) {
    const require = createRequire(import.meta.url);
    addonPath = null;
    for (const build of ['Release', 'Debug']) {
      try {
        addonPath = require.resolve(`better-sqlite3/build/${build}/better_sqlite3.node`);
        break;
      } catch {
        // not this build
      }
    }
  }
  return addonPath ?? undefined;
}

/**
 * Open (creating if needed) the store's SQLite file and bring its schema up to date.
 * Pragmas follow pnpm's store index: WAL so readers never block the writer, synchronous=NORMAL
 * (durable at checkpoints, never corrupt), a busy timeout so concurrent CLI processes queue.
 */
export function openDatabase(path: string, o: OpenDatabaseOptions = {}): Db {
  if (o.signal?.aborted) throw new LadingError('CANCELED', 'operation canceled', { cause: o.signal.reason });
  const clock = o.clock ?? { now: () => Date.now() };
  let sqlite: Database.Database;
  try {
    sqlite = new Database(path, { nativeBinding: nativeAddon() });
  } catch (e) {
    throw mapSqliteError(e, path);
  }
  const busyTimeoutMs = Math.max(0, Math.floor(o.busyTimeoutMs ?? 10_000));
  try {
    sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
    retryBusy(() => sqlite.pragma('journal_mode = WAL'), busyTimeoutMs);
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    retryBusy(() => migrate(sqlite), busyTimeoutMs);
    retryBusy(() => sqlite.exec(TEMP_TABLES), busyTimeoutMs);
  } catch (e) {
    sqlite.close();
    throw mapSqliteError(e, path);
  }

  // One cache per statement mode: raw() is a mode of the statement object, so those are apart.
  const cacheOf = (prepare: (sql: string) => Statement) => {
    const cache = new Map<string, Statement>();
    const get = (sql: string): Statement => {
      let s = cache.get(sql);
      if (s === undefined) {
        s = prepare(sql);
        cache.set(sql, s);
      }
      return s;
    };
    return { get, clear: () => cache.clear() };
  };
  const plain = cacheOf((sql) => sqlite.prepare(sql));
  const raw = cacheOf((sql) => sqlite.prepare(sql).raw(true));

  let current: TxImpl | undefined;
  const runner = sqlite.transaction((fn: (tx: Tx) => unknown, writable: boolean) => {
    const outer = current;
    const tx = outer ?? new TxImpl(plain.get, raw.get, clock.now(), writable);
    if (outer !== undefined && writable && !outer.writable) {
      throw new LadingError('INTERNAL', 'db.tx nested inside db.read');
    }
    current = tx;
    try {
      const result = fn(tx);
      if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
        // Swallow the orphaned promise's eventual rejection; the caller gets this error instead.
        (result as Promise<unknown>).then(undefined, () => {});
        throw new LadingError('INTERNAL', 'db.tx callback returned a promise: never await inside a transaction');
      }
      return result;
    } finally {
      if (outer === undefined) {
        tx.active = false;
        current = undefined;
      }
    }
  });

  let closed = false;
  const run = <T>(fn: (tx: Tx) => T, writable: boolean): T => {
    if (closed) throw new LadingError('INTERNAL', 'metadata database is closed');
    try {
      if (current !== undefined) return (writable ? runner.immediate(fn, true) : runner.deferred(fn, false)) as T;
      // Outermost only: a retry re-runs the whole transaction. A write is retried only if BUSY
      // came before `fn` ran (at BEGIN IMMEDIATE); reads have no effects to repeat.
      let started = false;
      const once = (tx: Tx): T => {
        started = true;
        return fn(tx);
      };
      return retryBusy(() => {
        try {
          return (writable ? runner.immediate(once, true) : runner.deferred(once, false)) as T;
        } catch (e) {
          if (writable && started && isBusy(e)) throw mapSqliteError(e, path);
          throw e;
        }
      }, busyTimeoutMs);
    } catch (e) {
      throw mapSqliteError(e, path);
    }
  };

  return {
    path,
    tx: (fn) => run(fn, true),
    read: (fn) => run(fn, false),
    close: () => {
      if (closed) return;
      closed = true;
      plain.clear();
      raw.clear();
      sqlite.close();
    },
  };
}

/**
 * Apply the migrations the file has not seen, in one immediate transaction. `user_version` is
 * re-read under the write lock, so two processes opening a fresh store migrate it exactly once.
 */
function migrate(sqlite: Database.Database): void {
  // Current already (every open but the first after an upgrade): no need for the write lock,
  // which would make read-only commands wait behind a pull's transactions.
  if ((sqlite.pragma('user_version', { simple: true }) as number) === MIGRATIONS.length) return;
  const apply = sqlite.transaction(() => {
    const version = sqlite.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new LadingError(
        'UNSUPPORTED',
        `metadata schema version ${version} is newer than this lading supports (${MIGRATIONS.length})`,
        { hint: 'upgrade lading' },
      );
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      sqlite.exec(MIGRATIONS[v]!);
      sqlite.pragma(`user_version = ${v + 1}`);
    }
  });
  apply.immediate();
}

/** Schema version this build writes (number of migrations). */
export const SCHEMA_VERSION = MIGRATIONS.length;
