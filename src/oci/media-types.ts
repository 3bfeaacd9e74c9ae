/** Media types lading reads and writes. */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export const MANIFEST_TYPES: readonly string[] = [MediaType.OciManifest, MediaType.DockerManifest];
export const INDEX_TYPES: readonly string[] = [MediaType.OciIndex, MediaType.DockerManifestList];

/** The Accept header for a manifest GET: every type we can handle, images and indexes. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
].join(', ');

export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** Compression implied by a layer media type, or undefined when it is not a layer type. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  switch (mediaType) {
    case MediaType.OciLayer:
    case MediaType.OciLayerNondistributable:
    case 'application/vnd.docker.image.rootfs.diff.tar':
      return 'none';
    case MediaType.OciLayerGzip:
    case MediaType.OciLayerNondistributableGzip:
    case MediaType.DockerLayerGzip:
    case MediaType.DockerLayerForeignGzip:
      return 'gzip';
    case MediaType.OciLayerZstd:
    case MediaType.OciLayerNondistributableZstd:
      return 'zstd';
    default:
      return undefined;
  }
}

export const isIndexType = (m: string | undefined): boolean => m !== undefined && INDEX_TYPES.includes(m);
export const isManifestType = (m: string | undefined): boolean => m !== undefined && MANIFEST_TYPES.includes(m);
