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
/** An idle thread is kept this long for the next layer, then ended to give its heap back. */
const IDLE_MS = 5_000;

/** Idle unpack threads, each with the timer that ends it. */
const idle = new Map<Worker, NodeJS.Timeout>();

function spawn(): Worker {
  // A small young generation: the thread churns through short-lived buffers, and garbage
  // waiting for a scavenge is what drives its memory up. Measured on the bench image (two
  // threads at once, 14 pulls each): peak RSS at most 187 MiB with 4 MB, 205 MiB with 8 MB,
  // the same wall time.
  const worker = new Worker(WORKER_URL, { resourceLimits: { maxYoungGenerationSizeMb: 4 } });
  worker.on('exit', () => {
    clearTimeout(idle.get(worker));
    idle.delete(worker);
  });
  // A job listens for its thread's errors; a parked thread that fails just exits (above).
  worker.on('error', () => {});
  return worker;
}

/** Keep a thread that finished a job cleanly for the next one; parked, it does not hold the process open. */
function park(worker: Worker): void {
  worker.unref();
  const timer = setTimeout(() => {
    idle.delete(worker); // not to be taken while it stops
    void worker.terminate();
  }, IDLE_MS);
  timer.unref();
  idle.set(worker, timer);
}

/**
 * Start up to `n` threads ahead of the jobs (a thread takes some 100 ms to boot and load the
 * applier), so they boot while the layers still download. Idle ones end after IDLE_MS.
 */
export function prewarmApplyThreads(n: number): void {
  for (let i = idle.size; i < n; i++) park(spawn());
}

/** @internal threads parked for the next job (tests) */
export function idleApplyThreads(): number {
  return idle.size;
}

function take(): Worker {
  for (const [worker, timer] of idle) {
    clearTimeout(timer);
    idle.delete(worker);
    worker.ref();
    return worker;
  }
  return spawn();
}

/**
 * applyLayer on a layer file (gzip, zstd or plain tar) in a worker thread. Decompressing,
 * parsing and the thousands of small synchronous fs calls of a big layer then run beside the
 * main thread (downloads, other layers) instead of blocking it: on two cores this is what lets
 * layers unpack in parallel. Threads are reused across layers (see apply-layer-worker.ts).
 * Cancelling terminates the thread and settles once it has stopped; the caller removes `dir`.
 */
export function applyLayerFile(dir: string, file: string, o: ApplyLayerFileOptions): Promise<ApplyLayerResult> {
  if (o.signal?.aborted) return Promise.reject(canceled(o.signal));
  const job: WorkerJob = { dir, file, asRoot: o.asRoot, whiteouts: o.whiteouts };
  const worker = take();
  return new Promise<ApplyLayerResult>((resolve, reject) => {
    let crashed: Error | undefined;
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      void worker.terminate();
    };
    const finish = (): void => {
      o.signal?.removeEventListener('abort', onAbort);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    // A job's outcome arrives after the worker's last write for it, so a clean result can be
    // reported at once and the thread reused.
    const onMessage = (m: WorkerMessage): void => {
      if (m.type === 'progress') {
        o.onProgress?.(m.bytes);
        return;
      }
      if (aborted) return; // settled on exit
      finish();
      park(worker);
      if (m.type === 'done') resolve(m.result);
      else reject(new LadingError(m.code, m.message, { ...(m.detail ? { detail: m.detail } : {}), ...(m.hint ? { hint: m.hint } : {}) }));
    };
    const onError = (e: Error): void => {
      crashed ??= e;
    };
    // A cancelled or crashed thread is not reused: it settles the job once it has stopped, so
    // nothing writes into `dir` after the caller hears back.
    const onExit = (code: number): void => {
      finish();
      if (aborted) reject(canceled(o.signal));
      else if (crashed) reject(new LadingError('INTERNAL', `failed to apply layer: ${crashed.message}`, { cause: crashed }));
      else reject(new LadingError('INTERNAL', `failed to apply layer: worker exited with code ${code}`));
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage(job);
  });
}
