/**
 * Worker-thread entry for applyLayerFile: reads a (compressed) layer file, decompresses it and
 * applies it with applyLayer, reporting progress and the result to the parent thread.
 */
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { autoDecompress } from '../compression/index.js';
import { LadingError } from '../errors/index.js';
import { applyLayer } from './apply-layer.js';
import type { WorkerJob, WorkerMessage } from './apply-layer-file.js';

const job = workerData as WorkerJob;
const post = (m: WorkerMessage): void => parentPort!.postMessage(m);

/** Progress counts the file's (compressed) bytes, like Docker's Extracting bar. */
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
file.on('error', (e) => counter.destroy(e));
const tar = file.pipe(counter).pipe(autoDecompress());
counter.on('error', (e) => tar.destroy(e));

applyLayer(job.dir, tar, { asRoot: job.asRoot, whiteouts: job.whiteouts }).then(
  (result) => {
    post({ type: 'progress', bytes: read });
    post({ type: 'done', result });
  },
  (e: unknown) => {
    const err = e instanceof LadingError ? e : new LadingError('INTERNAL', String((e as Error)?.message ?? e));
    post({ type: 'error', code: err.code, message: err.message, ...(err.detail ? { detail: err.detail } : {}), ...(err.hint ? { hint: err.hint } : {}) });
  },
);
