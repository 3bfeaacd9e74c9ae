#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled package (npm run build).
import { setFlagsFromString } from 'node:v8';

// undici parses HTTP with a WebAssembly build of llhttp, which V8 recompiles with TurboFan in
// the background; a short command then waits ~150-250 ms at exit for that compile. Liftoff's
// baseline code parses as fast for our traffic (measured on 160 MB of blobs), so skip tier-up.
setFlagsFromString('--liftoff-only');

// `lading images | head`: a reader that went away is not an error (Go's CLI dies of SIGPIPE
// silently; Node would print an EPIPE stack).
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const { main } = await import('../dist/src/cli/index.js');
process.exitCode = await main(process.argv.slice(2));
