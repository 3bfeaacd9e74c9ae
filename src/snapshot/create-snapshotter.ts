import { LadingError } from '../errors/index.js';
import { NativeSnapshotter } from './native.js';
import { OverlaySnapshotter } from './overlay.js';
import type { Snapshotter } from './types.js';

export interface SnapshotterOptions {
  kind: 'overlay' | 'native';
  /** Apply owners and devices; defaults to whether we run as root. Overlay needs it. */
  asRoot?: boolean;
}

export function createSnapshotter(root: string, o: SnapshotterOptions): Snapshotter & { cleanup(o?: { graceMs?: number; now?: number }): Promise<void> } {
  const asRoot = o.asRoot ?? process.getuid?.() === 0;
  if (o.kind === 'overlay') {
    if (!asRoot) throw new LadingError('UNSUPPORTED', 'the overlay snapshotter needs root', { hint: 'use the native snapshotter' });
    return new OverlaySnapshotter(root, asRoot);
  }
  return new NativeSnapshotter(root, asRoot);
}
