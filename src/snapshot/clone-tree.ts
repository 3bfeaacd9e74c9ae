import { copyFileSync, constants, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, readdirSync, chmodSync, utimesSync, chownSync, readlinkSync, symlinkSync } from 'node:fs';
import { throwIfAborted } from '../errors/index.js';

/**
 * Copy the tree `src` into the existing empty directory `dst`. 'hardlink' links every
 * non-directory (files, symlinks, devices, fifos: link(2) never follows) and recreates
 * directories with their mode, owner and times: fast, and safe as long as nobody writes into an
 * existing inode. 'copy' copies file contents (reflink when the filesystem can) for trees that
 * will be written in place. Synchronous calls, for the same reason as applyLayer's.
 */
export function cloneTree(src: string, dst: string, o: { mode: 'hardlink' | 'copy'; asRoot: boolean; signal?: AbortSignal | undefined }): void {
  let n = 0;
  const walk = (s: string, d: string): void => {
    for (const name of readdirSync(s)) {
      if ((++n & 1023) === 0) throwIfAborted(o.signal);
      const sp = `${s}/${name}`;
      const dp = `${d}/${name}`;
      const st = lstatSync(sp);
      if (st.isDirectory()) {
        mkdirSync(dp, 0o700);
        walk(sp, dp);
        if (o.asRoot) chownSync(dp, st.uid, st.gid);
        chmodSync(dp, st.mode & 0o7777);
        utimesSync(dp, st.atime, st.mtime);
      } else if (o.mode === 'hardlink') {
        linkSync(sp, dp);
      } else if (st.isFile()) {
        copyFileSync(sp, dp, constants.COPYFILE_FICLONE);
        if (o.asRoot) chownSync(dp, st.uid, st.gid);
        chmodSync(dp, st.mode & 0o7777);
        utimesSync(dp, st.atime, st.mtime);
      } else if (st.isSymbolicLink()) {
        symlinkSync(readlinkSync(sp), dp);
        if (o.asRoot) lchownSync(dp, st.uid, st.gid);
        lutimesSync(dp, st.atime, st.mtime);
      } else {
        linkSync(sp, dp); // devices and fifos hold no data: sharing the inode is harmless
      }
    }
  };
  walk(src, dst);
  const st = lstatSync(src);
  chmodSync(dst, st.mode & 0o7777);
  utimesSync(dst, st.atime, st.mtime);
}
