/**
 * Typed progress of image transfers. The CLI renders these as Docker's terminal lines or plain
 * lines; the Engine API turns them into Docker's JSON messages. Progress is not logging.
 */
export type LayerAction =
  | 'pulling' // Pulling fs layer
  | 'waiting' // Waiting
  | 'downloading' // Downloading (carries current/total)
  | 'verifying' // Verifying Checksum
  | 'downloaded' // Download complete
  | 'extracting' // Extracting (carries current/total)
  | 'complete' // Pull complete
  | 'exists' // Already exists
  | 'preparing' // Preparing (push)
  | 'pushing' // Pushing (carries current/total)
  | 'pushed' // Pushed
  | 'layer-exists' // Layer already exists (push)
  | 'loading'; // Loading layer (load, carries current/total)

export type ProgressEvent =
  | { kind: 'layer'; id: string; action: LayerAction; current?: number; total?: number }
  | { kind: 'message'; text: string; id?: string };

export type OnProgress = (e: ProgressEvent) => void;

/** Docker's status words for each action. */
export const LAYER_STATUS: Record<LayerAction, string> = {
  pulling: 'Pulling fs layer',
  waiting: 'Waiting',
  downloading: 'Downloading',
  verifying: 'Verifying Checksum',
  downloaded: 'Download complete',
  extracting: 'Extracting',
  complete: 'Pull complete',
  exists: 'Already exists',
  preparing: 'Preparing',
  pushing: 'Pushing',
  pushed: 'Pushed',
  'layer-exists': 'Layer already exists',
  loading: 'Loading layer',
};

/**
 * Byte progress arrives per chunk, thousands of times per layer (on a terminal, a line rewritten
 * for each): pass on the first and the last report and otherwise one per 1 % of the total or
 * 512 KiB, whichever is less, like Docker's progress reader (moby pkg/progress/progressreader.go).
 */
export function throttledProgress(f: (current: number, total: number) => void): (current: number, total: number) => void {
  let last = -1;
  return (current, total) => {
    const every = Math.min(512 * 1024, Math.floor(total / 100));
    if (last >= 0 && current < total && current - last < every) return;
    last = current;
    f(current, total);
  };
}
