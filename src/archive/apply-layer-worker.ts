/**
 * Worker-thread entry for applyLayerFile. The thread lives on between jobs: it takes one job at
 * a time (read a compressed layer file, decompress it, apply it with applyLayer), reporting
 * progress and the result. Reusing it spares each layer a thread start-up and, above all, the
 * optimizing compiler's work on the parser and applier, which a fresh isolate redoes from
 * scratch (a fifth of a cold pull's CPU when every layer had its own thread).
 */
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { autoDecompress } from '../compression/index.js';
import { LadingError } from '../errors/index.js';
import { applyLayer, type ApplyLayerResult } from './apply-layer.js';
import type { WorkerJob, WorkerMessage } from './apply-layer-file.js';

const post = (m: WorkerMessage): void => parentPort!.postMessage(m);

async function run(job: WorkerJob): Promise<ApplyLayerResult> {
  // Progress counts the file's (compressed) bytes, like Docker's Extracting bar.
  let read = 0;
  let lastPosted = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      read += chunk.length;
      if (read - lastPosted >= 256 * 1024) {
        lastPosted = read;
        post({ type: 'progress', bytes: read });
      }
      cb(null, chunk);
    },
  });
  const file = createReadStream(job.file, { highWaterMark: 256 * 1024 });
  const tar = autoDecompress();
  // Every stream has its error handled before applyLayer attaches its pipeline (which it may
  // never do, e.g. when the target directory is missing): an unhandled one would kill the thread.
  file.on('error', (e) => counter.destroy(e));
  counter.on('error', (e) => tar.destroy(e));
  tar.on('error', () => {});
  file.pipe(counter).pipe(tar);
  try {
    const result = await applyLayer(job.dir, tar, { asRoot: job.asRoot, whiteouts: job.whiteouts });
    post({ type: 'progress', bytes: read });
    return result;
  } finally {
    file.destroy();
  }
}

parentPort!.on('message', (job: WorkerJob) => {
  run(job).then(
    (result) => post({ type: 'done', result }),
    (e: unknown) => {
      const err = e instanceof LadingError ? e : new LadingError('INTERNAL', String((e as Error)?.message ?? e));
      post({ type: 'error', code: err.code, message: err.message, ...(err.detail ? { detail: err.detail } : {}), ...(err.hint ? { hint: err.hint } : {}) });
    },
  );
});
