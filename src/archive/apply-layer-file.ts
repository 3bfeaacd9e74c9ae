import { Worker } from 'node:worker_threads';
import { canceled, LadingError, type ErrorCode } from '../errors/index.js';
import type { ApplyLayerResult } from './apply-layer.js';

export interface ApplyLayerFileOptions {
  asRoot: boolean;
  whiteouts: 'overlay' | 'delete';
  signal?: AbortSignal | undefined;
  /** Bytes of the file read so far (cumulative). */
  onProgress?: ((bytes: number) => void) | undefined;
}

/** @internal what the parent sends the worker */
export interface WorkerJob {
  dir: string;
  file: string;
  asRoot: boolean;
  whiteouts: 'overlay' | 'delete';
}

/** @internal what the worker sends back */
export type WorkerMessage =
  | { type: 'progress'; bytes: number }
  | { type: 'done'; result: ApplyLayerResult }
  | { type: 'error'; code: ErrorCode; message: string; detail?: Record<string, unknown>; hint?: string };

const WORKER_URL = new URL('./apply-layer-worker.js', import.meta.url);

/**
 * applyLayer on a layer file (gzip, zstd or plain tar) in a worker thread. Decompressing,
 * parsing and the thousands of small synchronous fs calls of a big layer then run beside the
 * main thread (downloads, other layers) instead of blocking it: on two cores this is what lets
 * layers unpack in parallel. Cancelling terminates the worker; the caller removes `dir`.
 */
export function applyLayerFile(dir: string, file: string, o: ApplyLayerFileOptions): Promise<ApplyLayerResult> {
  if (o.signal?.aborted) return Promise.reject(canceled(o.signal));
  const job: WorkerJob = { dir, file, asRoot: o.asRoot, whiteouts: o.whiteouts };
  // A small young generation: the thread churns through short-lived buffers, and garbage
  // waiting for a scavenge is what drives its memory up.
  const worker = new Worker(WORKER_URL, { workerData: job, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
  return new Promise<ApplyLayerResult>((resolve, reject) => {
    // Settled on 'exit' only, so nothing writes into `dir` once the caller hears back.
    let outcome: { ok: ApplyLayerResult } | { err: Error } | undefined;
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      void worker.terminate();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') o.onProgress?.(m.bytes);
      else if (m.type === 'done') outcome = { ok: m.result };
      else outcome = { err: new LadingError(m.code, m.message, { ...(m.detail ? { detail: m.detail } : {}), ...(m.hint ? { hint: m.hint } : {}) }) };
    });
    worker.on('error', (e) => {
      outcome ??= { err: new LadingError('INTERNAL', `failed to apply layer: ${e.message}`, { cause: e }) };
    });
    worker.on('exit', (code) => {
      o.signal?.removeEventListener('abort', onAbort);
      if (aborted) reject(canceled(o.signal));
      else if (outcome && 'ok' in outcome) resolve(outcome.ok);
      else reject(outcome?.err ?? new LadingError('INTERNAL', `failed to apply layer: worker exited with code ${code}`));
    });
  });
}
