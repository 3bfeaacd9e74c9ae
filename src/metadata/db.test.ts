import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { LadingError, isCode } from '../errors/index.js';
import { MIGRATIONS, SCHEMA_VERSION, blobs, openDatabase, type Db, type Tx } from './index.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lading-metadata-db-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
const freshPath = () => join(dir, `meta-${n++}.db`);
const hex = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;
const countBlobs = (db: Db) => db.read((tx) => blobs.count(tx));
const putBlob = (db: Db, i: number) => db.tx((tx) => blobs.put(tx, { digest: hex(i) as never, size: i, mediaType: 'x' }));

/** The schema as version 2 left it: no reference packs and no triggers keeping them. */
function undoMigration3(tx: Tx): void {
  for (const t of ['tags', 'digest_refs']) for (const k of ['insert', 'delete', 'update']) tx.run(`DROP TRIGGER ${t}_pack_${k}`);
  tx.run(`ALTER TABLE images DROP COLUMN tags_packed`);
  tx.run(`ALTER TABLE images DROP COLUMN digests_packed`);
}

describe('openDatabase', () => {
  test('sets the pragmas and the schema version', () => {
    const db = openDatabase(freshPath());
    try {
      const p = db.read((tx) => ({
        journal: tx.get<{ journal_mode: string }>('PRAGMA journal_mode')!.journal_mode,
        fk: tx.get<{ foreign_keys: number }>('PRAGMA foreign_keys')!.foreign_keys,
        sync: tx.get<{ synchronous: number }>('PRAGMA synchronous')!.synchronous,
        busy: tx.get<{ timeout: number }>('PRAGMA busy_timeout')!.timeout,
        version: tx.get<{ user_version: number }>('PRAGMA user_version')!.user_version,
      }));
      assert.deepEqual(p, { journal: 'wal', fk: 1, sync: 1, busy: 10000, version: MIGRATIONS.length });
      assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
    } finally {
      db.close();
    }
  });

  test('migrations are idempotent on reopen and data survives', () => {
    const path = freshPath();
    for (let i = 0; i < 3; i++) {
      const db = openDatabase(path);
      putBlob(db, i + 1);
      assert.equal(countBlobs(db), i + 1);
      assert.equal(db.read((tx) => tx.get<{ user_version: number }>('PRAGMA user_version')!.user_version), MIGRATIONS.length);
      db.close();
    }
  });

  test('a store at an older schema version is migrated forward, its rows kept', () => {
    const path = freshPath();
    // A version-1 store, as the first release wrote it.
    const db1 = openDatabase(path);
    db1.tx((tx) => {
      undoMigration3(tx);
      tx.run(`DROP INDEX digest_refs_by_digest`);
      tx.run(`PRAGMA user_version = 1`);
    });
    putBlob(db1, 1);
    db1.close();
    const db = openDatabase(path);
    try {
      assert.equal(countBlobs(db), 1);
      db.read((tx) => {
        assert.equal(tx.get<{ user_version: number }>('PRAGMA user_version')!.user_version, MIGRATIONS.length);
        const plan = tx.all<{ detail: string }>(`EXPLAIN QUERY PLAN SELECT 1 FROM digest_refs WHERE digest = ? LIMIT 1`, 'x');
        assert.match(plan.map((r) => r.detail).join(' '), /USING COVERING INDEX digest_refs_by_digest/);
      });
    } finally {
      db.close();
    }
  });

  test('a version-2 store gets its references packed on upgrade (migration 3)', () => {
    const path = freshPath();
    const db2 = openDatabase(path);
    const img = hex(9);
    db2.tx((tx) => {
      tx.run(`INSERT INTO blobs VALUES (?, 1, 'x', 0)`, hex(8));
      tx.run(`INSERT INTO images (id, target_digest, target_media_type, target_size, size, os, architecture, added_at) VALUES (?, ?, 'x', 1, 0, 'linux', 'amd64', 0)`, img, hex(8));
      // Back to version 2: no packs, no triggers; then references as version 2 wrote them.
      undoMigration3(tx);
      for (const [r, t] of [['b', '1'], ['a', 'z'], ['a', 'y']] as const) tx.run(`INSERT INTO tags VALUES (?, ?, ?, 0)`, r, t, img);
      tx.run(`INSERT INTO digest_refs VALUES ('a', ?, ?, 0)`, hex(8), img);
      tx.run(`PRAGMA user_version = 2`);
    });
    db2.close();
    const db = openDatabase(path);
    try {
      assert.deepEqual(
        db.read((tx) => tx.get(`SELECT tags_packed, digests_packed FROM images`)),
        { tags_packed: 'a\ny\nz\vb\n1', digests_packed: `a\n${hex(8)}` },
      );
      // And the triggers run from now on.
      db.tx((tx) => tx.run(`DELETE FROM tags WHERE repository = 'b'`));
      assert.equal(db.read((tx) => tx.get<{ t: string }>(`SELECT tags_packed AS t FROM images`)!.t), 'a\ny\nz');
    } finally {
      db.close();
    }
  });

  test('a file from a newer lading is refused with UNSUPPORTED', () => {
    const path = freshPath();
    const db = openDatabase(path);
    db.tx((tx) => tx.run(`PRAGMA user_version = ${MIGRATIONS.length + 5}`));
    db.close();
    assert.throws(
      () => openDatabase(path),
      (e: unknown) =>
        isCode(e, 'UNSUPPORTED') &&
        (e as Error).message === `metadata schema version ${MIGRATIONS.length + 5} is newer than this lading supports (${MIGRATIONS.length})`,
    );
  });

  test('tx.now comes from the injected clock', () => {
    let t = 1_000;
    const db = openDatabase(freshPath(), { clock: { now: () => t } });
    try {
      assert.equal(db.tx((tx) => tx.now), 1_000);
      t = 2_500;
      db.tx((tx) => blobs.put(tx, { digest: hex(7) as never, size: 1, mediaType: 'x' }));
      assert.equal(db.read((tx) => blobs.find(tx, hex(7))!.createdAt), 2_500);
    } finally {
      db.close();
    }
  });
});

describe('db.tx', () => {
  test('a throw rolls back every change and the error passes through', () => {
    const db = openDatabase(freshPath());
    try {
      putBlob(db, 1);
      const boom = new LadingError('CONFLICT', 'boom');
      assert.throws(
        () =>
          db.tx((tx) => {
            blobs.put(tx, { digest: hex(2) as never, size: 2, mediaType: 'x' });
            tx.run('DELETE FROM blobs WHERE digest = ?', hex(1));
            throw boom;
          }),
        (e: unknown) => e === boom,
      );
      assert.deepEqual(
        db.read((tx) => tx.all<{ digest: string }>('SELECT digest FROM blobs')),
        [{ digest: hex(1) }],
      );
    } finally {
      db.close();
    }
  });

  test('a callback returning a promise is refused and rolled back', () => {
    const db = openDatabase(freshPath());
    try {
      assert.throws(
        () =>
          db.tx(async (tx) => {
            blobs.put(tx, { digest: hex(3) as never, size: 3, mediaType: 'x' });
          }),
        (e: unknown) =>
          isCode(e, 'INTERNAL') && (e as Error).message === 'db.tx callback returned a promise: never await inside a transaction',
      );
      assert.equal(countBlobs(db), 0);
    } finally {
      db.close();
    }
  });

  test('a transaction object is dead once its callback returned', () => {
    const db = openDatabase(freshPath());
    try {
      const leaked = db.tx((tx) => tx);
      assert.throws(() => leaked.all('SELECT 1'), (e: unknown) => isCode(e, 'INTERNAL'));
    } finally {
      db.close();
    }
  });

  test('a nested tx is a savepoint: its failure undoes only its own changes', () => {
    const db = openDatabase(freshPath());
    try {
      db.tx((tx) => {
        blobs.put(tx, { digest: hex(1) as never, size: 1, mediaType: 'x' });
        assert.throws(() =>
          db.tx((inner) => {
            assert.equal(inner, tx);
            blobs.put(inner, { digest: hex(2) as never, size: 2, mediaType: 'x' });
            throw new Error('inner');
          }),
        );
      });
      assert.deepEqual(db.read((tx) => tx.all('SELECT digest FROM blobs')), [{ digest: hex(1) }]);
    } finally {
      db.close();
    }
  });

  test('db.read refuses writes', () => {
    const db = openDatabase(freshPath());
    try {
      assert.throws(
        () => db.read((tx) => tx.run('DELETE FROM blobs')),
        (e: unknown) => isCode(e, 'INTERNAL') && (e as Error).message === 'write inside a read-only transaction',
      );
    } finally {
      db.close();
    }
  });

  test('SQL errors become INTERNAL LadingErrors with the SQLite code', () => {
    const db = openDatabase(freshPath());
    try {
      assert.throws(
        () =>
          db.tx((tx) =>
            tx.run(`INSERT INTO tags (repository, tag, image_id, created_at) VALUES ('r', 't', 'sha256:none', 0)`),
          ),
        (e: unknown) =>
          isCode(e, 'INTERNAL') && (e as LadingError).detail?.['sqliteCode'] === 'SQLITE_CONSTRAINT_FOREIGNKEY',
      );
    } finally {
      db.close();
    }
  });
});

describe('two connections on one file', () => {
  test('both write, each sees the other', () => {
    const path = freshPath();
    const a = openDatabase(path);
    const b = openDatabase(path);
    try {
      for (let i = 0; i < 10; i++) putBlob(i % 2 === 0 ? a : b, i + 1);
      assert.equal(countBlobs(a), 10);
      assert.equal(countBlobs(b), 10);
    } finally {
      a.close();
      b.close();
    }
  });

  test('a reader keeps its snapshot while the other connection writes', () => {
    const path = freshPath();
    const a = openDatabase(path);
    const b = openDatabase(path);
    try {
      putBlob(a, 1);
      b.tx((tx) => {
        blobs.put(tx, { digest: hex(2) as never, size: 2, mediaType: 'x' });
        // WAL: a's reader is not blocked by b's open write transaction and sees the last commit.
        assert.equal(countBlobs(a), 1);
      });
      assert.equal(countBlobs(a), 2);
    } finally {
      a.close();
      b.close();
    }
  });

  test('a writer that cannot get the lock in time gets UNAVAILABLE', () => {
    const path = freshPath();
    const a = openDatabase(path);
    const b = openDatabase(path, { busyTimeoutMs: 0 });
    try {
      a.tx(() => {
        assert.throws(
          () => putBlob(b, 9),
          (e: unknown) => isCode(e, 'UNAVAILABLE') && (e as Error).message === `metadata database is locked: ${path}`,
        );
      });
      putBlob(b, 9);
      assert.equal(countBlobs(a), 1);
    } finally {
      a.close();
      b.close();
    }
  });

  test('concurrent writers in two threads both succeed (busy_timeout queues them)', async () => {
    const path = freshPath();
    const modUrl = new URL('./index.js', import.meta.url).href;
    const rounds = 200;
    // The worker opens its own connection, as a second process would.
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       import(workerData.modUrl).then((m) => {
         const db = m.openDatabase(workerData.path);
         parentPort.postMessage('ready');
         for (let i = 0; i < workerData.rounds; i++) {
           db.tx((tx) => m.blobs.put(tx, { digest: 'sha256:' + (100000 + i).toString(16).padStart(64, '0'), size: i, mediaType: 'w' }));
         }
         db.close();
       });`,
      { eval: true, workerData: { modUrl, path, rounds } },
    );
    const exited = new Promise<number>((resolve, reject) => {
      worker.on('exit', resolve);
      worker.on('error', reject);
    });
    await new Promise<void>((resolve) => worker.once('message', () => resolve()));
    const db = openDatabase(path);
    try {
      for (let i = 0; i < rounds; i++) putBlob(db, i + 1);
      assert.equal(await exited, 0);
      assert.equal(countBlobs(db), 2 * rounds);
      assert.equal(db.read((tx) => tx.get<{ n: number }>(`SELECT count(*) AS n FROM blobs WHERE media_type = 'w'`)!.n), rounds);
    } finally {
      db.close();
    }
  });
});
