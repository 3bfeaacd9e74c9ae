import { arch as osArch, platform as osPlatform } from 'node:os';
import { LadingError } from '../errors/index.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
  ia32: '386',
  x64: 'amd64',
};
const KNOWN_OS = new Set(['linux', 'windows', 'darwin', 'freebsd', 'netbsd', 'openbsd', 'solaris', 'illumos', 'aix', 'android', 'ios', 'js', 'plan9', 'dragonfly', 'wasip1']);
const KNOWN_ARCH = new Set(['amd64', 'arm64', 'arm', '386', 'ppc64le', 'ppc64', 's390x', 'riscv64', 'mips64le', 'mips64', 'mipsle', 'mips', 'loong64', 'wasm']);

/** Normalise like containerd's platforms.Normalize: aliases, arm64 drops v8, arm defaults to v7. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  architecture = ARCH_ALIASES[architecture] ?? architecture;
  let variant = p.variant?.toLowerCase();
  if (architecture === 'arm64' && variant === 'v8') variant = undefined;
  if (architecture === 'arm' && (variant === undefined || variant === '')) variant = 'v7';
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  const out: Platform = { os, architecture };
  if (variant) out.variant = variant;
  return out;
}

/** Parse "os/arch[/variant]" or "arch" (Docker also accepts a bare os). */
export function parsePlatform(s: string): Platform {
  const parts = s.split('/');
  const bad = () => new LadingError('INVALID_ARGUMENT', `"${s}": unknown operating system or architecture: invalid argument`);
  if (parts.length > 3 || parts.some((x) => x === '')) throw bad();
  if (parts.length === 1) {
    const x = parts[0]!.toLowerCase();
    if (KNOWN_OS.has(x)) return normalizePlatform({ os: x, architecture: hostPlatform().architecture });
    const a = ARCH_ALIASES[x] ?? x;
    if (KNOWN_ARCH.has(a)) return normalizePlatform({ os: 'linux', architecture: a });
    throw bad();
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  if (!KNOWN_OS.has(os.toLowerCase())) throw bad();
  const a = ARCH_ALIASES[architecture.toLowerCase()] ?? architecture.toLowerCase();
  if (!KNOWN_ARCH.has(a)) throw bad();
  return normalizePlatform(variant ? { os, architecture: a, variant } : { os, architecture: a });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

export function hostPlatform(): Platform {
  const os = osPlatform() === 'win32' ? 'windows' : osPlatform();
  return normalizePlatform({ os, architecture: osArch() });
}

/** Does an index entry's platform satisfy the wanted one? Variant must match when wanted has one;
 *  arm v7 accepts v6/v5 images as containerd's matcher does for compatibility. */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (!have) return false;
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  if (!w.variant || !h.variant) return (w.variant ?? '') === (h.variant ?? '') || w.architecture !== 'arm';
  if (w.variant === h.variant) return true;
  if (w.architecture === 'arm') {
    const rank = (v: string) => Number(v.replace(/^v/, ''));
    return rank(h.variant) < rank(w.variant);
  }
  return false;
}

/** Preference among matches: exact variant first, then the highest compatible variant. */
export function platformScore(want: Platform, have: Platform): number {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if ((w.variant ?? '') === (h.variant ?? '')) return 1000;
  return Number((h.variant ?? 'v0').replace(/^v/, '')) || 0;
}
