import { open } from 'node:fs/promises';

/** fsync a directory so a rename or create inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (e) {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic.
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL' && (e as NodeJS.ErrnoException).code !== 'EISDIR') throw e;
  } finally {
    await fh.close();
  }
}
