import { join } from 'node:path';
import { digestAlgorithm, digestHex, parseDigest, type Digest } from '../../oci/index.js';

/**
 * The on-disk layout (after distribution's registry/storage/paths.go):
 *
 *   <root>/blobs/<algo>/<hex[0:2]>/<hex>                  content, shared by all repositories
 *   <root>/uploads/<id>/{data,info.json}                    uploads in progress
 *   <root>/repositories/<name>/_layers/<algo>/<hex>         blob links (empty files)
 *   <root>/repositories/<name>/_manifests/revisions/<algo>/<hex>   ManifestRecord JSON
 *   <root>/repositories/<name>/_manifests/tags/<tag>        digest text
 *   <root>/repositories/<name>/_referrers/<algo>/<subject hex>/<algo>-<hex>   referrer descriptor JSON
 *   <root>/tmp/                                             temp files and the collector's trash
 *
 * Repository components never start with "_", so the reserved directories cannot clash with
 * nested repositories (`a` and `a/b` live in the same tree). Everything sits on one filesystem,
 * so moving into place is a rename.
 */
export class FsPaths {
  constructor(readonly root: string) {}
  get blobsDir(): string {
    return join(this.root, 'blobs');
  }
  get uploadsDir(): string {
    return join(this.root, 'uploads');
  }
  get reposDir(): string {
    return join(this.root, 'repositories');
  }
  get tmpDir(): string {
    return join(this.root, 'tmp');
  }
  blob(d: Digest): string {
    parseDigest(d); // never build a path from an unchecked string
    const hex = digestHex(d);
    return join(this.blobsDir, digestAlgorithm(d), hex.slice(0, 2), hex);
  }
  upload(id: string): string {
    return join(this.uploadsDir, id);
  }
  repo(name: string): string {
    return join(this.reposDir, ...name.split('/'));
  }
  layerLink(repo: string, d: Digest): string {
    parseDigest(d);
    return join(this.repo(repo), '_layers', digestAlgorithm(d), digestHex(d));
  }
  revision(repo: string, d: Digest): string {
    parseDigest(d);
    return join(this.repo(repo), '_manifests', 'revisions', digestAlgorithm(d), digestHex(d));
  }
  tagsDir(repo: string): string {
    return join(this.repo(repo), '_manifests', 'tags');
  }
  referrersDir(repo: string, subject: Digest): string {
    parseDigest(subject);
    return join(this.repo(repo), '_referrers', digestAlgorithm(subject), digestHex(subject));
  }
}

export const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;
