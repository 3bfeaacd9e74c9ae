import { LadingError } from '../errors/index.js';
import { parseDigest, sha256, type Digest } from './digest.js';
import { MAX_MANIFEST_BYTES } from './manifest.js';

/** The runtime part of an image config (Docker's field names, as stored in the JSON). */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object>;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: unknown;
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: Digest[] };
  history?: HistoryEntry[];
  // Docker-specific fields kept as written
  container?: string;
  container_config?: ContainerConfig;
  docker_version?: string;
  comment?: string;
  parent?: string;
  [k: string]: unknown;
}

const invalid = (msg: string) => new LadingError('MANIFEST_INVALID', `invalid image config: ${msg}`);

export function parseImageConfig(bytes: Uint8Array): ImageConfig {
  if (bytes.length > MAX_MANIFEST_BYTES) throw invalid(`larger than ${MAX_MANIFEST_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw invalid(`not JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('not a JSON object');
  const c = doc as Record<string, unknown>;
  const rootfs = c.rootfs as Record<string, unknown> | undefined;
  if (!rootfs || typeof rootfs !== 'object' || !Array.isArray(rootfs.diff_ids)) throw invalid('rootfs.diff_ids missing');
  if (rootfs.type !== 'layers') throw invalid(`rootfs.type must be "layers"`);
  const diffIds = rootfs.diff_ids.map((d) => {
    if (typeof d !== 'string') throw invalid('diff_ids must be strings');
    try {
      return parseDigest(d);
    } catch (e) {
      throw invalid(`diff_id ${JSON.stringify(d)}: ${(e as Error).message}`);
    }
  });
  if (typeof c.architecture !== 'string' || typeof c.os !== 'string') {
    // Docker tolerates missing platform fields in very old configs; treat them as unknown.
    c.architecture = typeof c.architecture === 'string' ? c.architecture : '';
    c.os = typeof c.os === 'string' ? c.os : '';
  }
  if (c.history !== undefined && c.history !== null && !Array.isArray(c.history)) throw invalid('history must be an array');
  return { ...(c as object), rootfs: { type: 'layers', diff_ids: diffIds } } as ImageConfig;
}

/** Chain IDs: chain(0) = diff(0); chain(n) = sha256(chain(n-1) + " " + diff(n)). */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : sha256(`${prev} ${d}`));
  }
  return out;
}
