import { randomUUID } from 'node:crypto';
import { LadingError } from '../errors/index.js';
import type { Tx } from './db.js';

export type LeaseId = string & { readonly __brand: 'LeaseId' };
export type LeaseResourceKind = 'blob' | 'snapshot' | 'ingest';

export interface LeaseRecord {
  id: LeaseId;
  createdAt: number;
  expiresAt: number;
}

/**
 * Leases guard work in progress across processes (containerd `leases`): a pull records each
 * digest, chain ID or ingest ref it is about to rely on, and GC treats unexpired leases'
 * resources as roots. A crashed process's lease simply expires; a long operation renews.
 */
export const leases = {
  acquire(tx: Tx, ttlMs: number, now: number = tx.now, o: { id?: string } = {}): LeaseId {
    if (!(ttlMs > 0)) throw new LadingError('INVALID_ARGUMENT', `lease ttl must be positive, got ${ttlMs}`);
    const id = (o.id ?? randomUUID()) as LeaseId;
    tx.run(`INSERT INTO leases (id, created_at, expires_at) VALUES (?, ?, ?)`, id, now, now + ttlMs);
    return id;
  },

  /** Hold a resource (idempotent). Throws NOT_FOUND when the lease expired and was collected. */
  add(tx: Tx, id: LeaseId, kind: LeaseResourceKind, key: string): void {
    if (tx.get(`SELECT 1 FROM leases WHERE id = ?`, id) === undefined) {
      throw new LadingError('NOT_FOUND', `lease ${id} not found (expired?)`);
    }
    tx.run(`INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) VALUES (?, ?, ?)`, id, kind, key);
  },

  /** Push the expiry to now + ttlMs. Throws NOT_FOUND when already collected. */
  renew(tx: Tx, id: LeaseId, ttlMs: number, now: number = tx.now): void {
    const { changes } = tx.run(`UPDATE leases SET expires_at = ? WHERE id = ?`, now + ttlMs, id);
    if (changes === 0) throw new LadingError('NOT_FOUND', `lease ${id} not found (expired?)`);
  },

  find(tx: Tx, id: string): LeaseRecord | undefined {
    const r = tx.get<{ id: string; created_at: number; expires_at: number }>(
      `SELECT id, created_at, expires_at FROM leases WHERE id = ?`,
      id,
    );
    return r && { id: r.id as LeaseId, createdAt: r.created_at, expiresAt: r.expires_at };
  },

  /** Drop the lease and its resources (idempotent). What it held becomes collectable. */
  release(tx: Tx, id: LeaseId): void {
    tx.run(`DELETE FROM leases WHERE id = ?`, id);
  },

  /** Delete leases whose expiry has passed; returns how many. */
  expire(tx: Tx, now: number = tx.now): number {
    return tx.run(`DELETE FROM leases WHERE expires_at <= ?`, now).changes;
  },

  /** Keys of `kind` held by unexpired leases (e.g. ingest refs cleanup must not touch). */
  heldKeys(tx: Tx, kind: LeaseResourceKind, now: number = tx.now): string[] {
    return tx
      .all<{ key: string }>(
        `SELECT DISTINCT r.key FROM lease_resources r JOIN leases l ON l.id = r.lease_id
         WHERE r.kind = ? AND l.expires_at > ? ORDER BY r.key`,
        kind,
        now,
      )
      .map((r) => r.key);
  },

  isHeld(tx: Tx, kind: LeaseResourceKind, key: string, now: number = tx.now): boolean {
    return (
      tx.get(
        `SELECT 1 FROM lease_resources r JOIN leases l ON l.id = r.lease_id
         WHERE r.kind = ? AND r.key = ? AND l.expires_at > ? LIMIT 1`,
        kind,
        key,
        now,
      ) !== undefined
    );
  },
};
