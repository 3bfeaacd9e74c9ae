import type { ContainerConfig, Digest, ImageConfig } from '../oci/index.js';

/** `docker image inspect`'s object (API 1.41), built from the stored config and references. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container: string;
  ContainerConfig: Record<string, unknown>;
  DockerVersion: string;
  Author: string;
  Config: Record<string, unknown>;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  VirtualSize: number;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** RFC 3339 with nanoseconds, trailing zeros trimmed, as Go prints time.Time in JSON. */
export function goTime(s: string | undefined): string {
  if (!s) return ZERO_TIME;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return s;
  const frac = (m[2] ?? '').replace(/0+$/, '');
  return `${m[1]}${frac ? `.${frac}` : ''}${m[3]}`;
}

export function goTimeFromMs(ms: number | undefined): string {
  if (!ms) return ZERO_TIME;
  return goTime(new Date(ms).toISOString());
}

/** Docker always returns these keys, filled with zero values when the stored config lacks them. */
export function fullContainerConfig(c: ContainerConfig | undefined): Record<string, unknown> {
  const v = c ?? {};
  const out: Record<string, unknown> = {
    Hostname: v.Hostname ?? '',
    Domainname: v.Domainname ?? '',
    User: v.User ?? '',
    AttachStdin: v.AttachStdin ?? false,
    AttachStdout: v.AttachStdout ?? false,
    AttachStderr: v.AttachStderr ?? false,
  };
  if (v.ExposedPorts && Object.keys(v.ExposedPorts).length > 0) out.ExposedPorts = v.ExposedPorts;
  Object.assign(out, {
    Tty: v.Tty ?? false,
    OpenStdin: v.OpenStdin ?? false,
    StdinOnce: v.StdinOnce ?? false,
    Env: v.Env ?? null,
    Cmd: v.Cmd ?? null,
  });
  if (v.Healthcheck !== undefined) out.Healthcheck = v.Healthcheck;
  if (v.ArgsEscaped !== undefined) out.ArgsEscaped = v.ArgsEscaped;
  Object.assign(out, {
    Image: v.Image ?? '',
    Volumes: v.Volumes ?? null,
    WorkingDir: v.WorkingDir ?? '',
    Entrypoint: v.Entrypoint ?? null,
    OnBuild: v.OnBuild ?? null,
    Labels: v.Labels ?? null,
  });
  if (v.StopSignal !== undefined) out.StopSignal = v.StopSignal;
  if (v.Shell !== undefined) out.Shell = v.Shell;
  return out;
}

export function inspectView(o: {
  id: Digest;
  repoTags: string[];
  repoDigests: string[];
  config: ImageConfig;
  size: number;
  lastTagTime?: number;
  graphDriver: { Name: string; Data: Record<string, string> | null };
}): ImageInspect {
  const c = o.config;
  const out: ImageInspect = {
    Id: o.id,
    RepoTags: o.repoTags,
    RepoDigests: o.repoDigests,
    Parent: typeof c.parent === 'string' ? c.parent : '',
    Comment: typeof c.comment === 'string' ? c.comment : '',
    Created: goTime(c.created),
    Container: typeof c.container === 'string' ? c.container : '',
    ContainerConfig: fullContainerConfig(c.container_config),
    DockerVersion: typeof c.docker_version === 'string' ? c.docker_version : '',
    Author: typeof c.author === 'string' ? c.author : '',
    Config: fullContainerConfig(c.config),
    Architecture: c.architecture,
    Os: c.os,
    Size: o.size,
    VirtualSize: o.size,
    GraphDriver: o.graphDriver,
    RootFS: { Type: 'layers', Layers: [...c.rootfs.diff_ids] },
    Metadata: { LastTagTime: goTimeFromMs(o.lastTagTime) },
  };
  if (c.variant) {
    // Docker places Variant right after Architecture.
    const { Os, Size, VirtualSize, GraphDriver, RootFS, Metadata, ...head } = out;
    return { ...head, Variant: c.variant, Os, Size, VirtualSize, GraphDriver, RootFS, Metadata };
  }
  return out;
}
