export { tarEntries, readCapped, normaliseEntryName, type TarEntry } from './tar-entries.js';
export {
  writeImageArchive,
  parseArchiveManifest,
  layoutIndex,
  blobPath,
  digestOfBlobPath,
  OCI_LAYOUT,
  type ArchiveImage,
  type ArchiveManifestEntry,
  type WriteArchiveOptions,
} from './image-archive.js';
export { OciDir } from './oci-dir.js';
