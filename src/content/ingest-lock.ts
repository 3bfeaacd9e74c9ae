import { link, readFile, rename, unlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../util/index.js';

/**
 * What a lock file records. `proc` is the holder's start time in clock ticks since boot
 * (/proc/<pid>/stat field 22, Linux only): it tells a live holder from a later process that
 * reused its pid (pid 1 in every container), and is the same for every thread of a process.
 */
export interface LockRecord {
  pid: number;
  startedAt: number;
  token: string;
  proc?: number;
}

export interface HeldLock {
  readonly record: LockRecord;
  /** Unlink the lock if it is still ours (a holder wrongly judged stale must not unlock its successor). */
  release(): Promise<void>;
}

/** Ours never changes: read it once per process, not once per lock taken. */
let ownStart: Promise<number | undefined> | undefined;

async function procStart(pid: number): Promise<number | undefined> {
  if (pid === process.pid) return (ownStart ??= readProcStart(pid));
  return readProcStart(pid);
}

async function readProcStart(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from its closing one.
    const v = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isSafeInteger(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

const LOCK = 'lock';

export function parseLock(text: string): LockRecord | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockRecord>;
    if (typeof v !== 'object' || v === null) return undefined;
    if (!Number.isSafeInteger(v.pid) || typeof v.startedAt !== 'number' || typeof v.token !== 'string') return undefined;
    const r: LockRecord = { pid: v.pid!, startedAt: v.startedAt, token: v.token };
    if (typeof v.proc === 'number') r.proc = v.proc;
    return r;
  } catch {
    return undefined;
  }
}

/**
 * A lock is live while its process is: kill(pid, 0) probes without signalling (EPERM = exists),
 * and where /proc exists the start time must match too (the pid may have been reused).
 */
export async function isLive(r: LockRecord): Promise<boolean> {
  if (!Number.isSafeInteger(r.pid) || r.pid <= 0) return false; // 0 and negatives address process groups
  if (r.pid !== process.pid) {
    try {
      process.kill(r.pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
    }
  }
  if (r.proc === undefined) return true;
  const now = await procStart(r.pid);
  return now === undefined || now === r.proc;
}

export async function readLock(dir: string): Promise<LockRecord | undefined | null> {
  let text: string;
  try {
    text = await readFile(join(dir, LOCK), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null; // no lock file
    throw e;
  }
  return parseLock(text); // undefined: unreadable, hence stale
}

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

/**
 * One attempt to take the lock of an ingest directory (creating the directory). Returns the held
 * lock, or the live holder's record. The lock file is written to a temp name and hard-linked into
 * place: link(2) creates only if absent, like open(O_EXCL), but a reader never sees it half-written.
 * A stale lock (dead pid or unreadable) is broken and the attempt repeated.
 */
export async function tryLock(dir: string, clock: Clock): Promise<HeldLock | { heldBy: LockRecord }> {
  const record: LockRecord = { pid: process.pid, startedAt: clock.now(), token: randomBytes(12).toString('hex') };
  const proc = await procStart(process.pid);
  if (proc !== undefined) record.proc = proc;
  const lockPath = join(dir, LOCK);
  const tmp = join(dir, `${LOCK}.${record.token}.tmp`);
  for (let attempt = 0; ; attempt++) {
    // The directory can vanish under us when its holder commits (it is renamed away): recreate.
    // A recursive mkdir that finds it made and then gone (EEXIST, then ENOENT from its stat)
    // reports ENOENT: that is the same race, so try again.
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      if (code(e) === 'ENOENT' && attempt < 100) continue;
      throw e;
    }
    try {
      await writeFile(tmp, JSON.stringify(record), { flag: 'wx' });
    } catch (e) {
      if (code(e) === 'ENOENT' && attempt < 100) continue;
      throw e;
    }
    try {
      await link(tmp, lockPath);
      return held(lockPath, record);
    } catch (e) {
      if (code(e) === 'ENOENT' && attempt < 100) continue;
      if (code(e) !== 'EEXIST') throw e;
    } finally {
      await unlink(tmp).catch(() => {});
    }
    const current = await readLock(dir);
    if (current === null) continue; // released meanwhile
    if (current !== undefined && (await isLive(current))) return { heldBy: current };
    if (attempt >= 100) throw new Error(`cannot break stale lock ${lockPath}`);
    await breakStale(lockPath, current);
  }
}

/**
 * Remove a stale lock without removing a fresh one someone else just created: move it aside
 * atomically, and if what we moved is not the stale lock we judged, put it back with link (which
 * fails rather than overwrite). The remaining window (a third taker between the two calls) needs
 * three processes within microseconds on one ref; accepted.
 */
async function breakStale(lockPath: string, stale: LockRecord | undefined): Promise<void> {
  const aside = `${lockPath}.stale.${randomBytes(8).toString('hex')}`;
  try {
    await rename(lockPath, aside);
  } catch (e) {
    if (code(e) === 'ENOENT') return;
    throw e;
  }
  try {
    const moved = parseLock(await readFile(aside, 'utf8'));
    const same = stale === undefined ? moved === undefined || !(await isLive(moved)) : moved?.token === stale.token;
    if (!same) await link(aside, lockPath).catch(() => {});
  } finally {
    await unlink(aside).catch(() => {});
  }
}

function held(lockPath: string, record: LockRecord): HeldLock {
  let released = false;
  return {
    record,
    async release() {
      if (released) return;
      released = true;
      let text: string;
      try {
        text = await readFile(lockPath, 'utf8');
      } catch (e) {
        if (code(e) === 'ENOENT') return;
        throw e;
      }
      if (parseLock(text)?.token === record.token) await unlink(lockPath).catch(() => {});
    },
  };
}
