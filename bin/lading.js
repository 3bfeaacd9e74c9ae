#!/usr/bin/env node
// Launcher: runs the bundled CLI (dist/lading.cjs, made by `npm run build`) from V8's code cache.
// CommonJS (bin/package.json): an ES module entry would start Node's ES module loader, ~15 ms of
// every command, for this one file.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const { setFlagsFromString } = require('node:v8');

// undici parses HTTP with a WebAssembly build of llhttp, which V8 recompiles with TurboFan in
// the background; a short command then waits ~150-250 ms at exit for that compile. Liftoff's
// baseline code parses as fast for our traffic (measured on 160 MB of blobs), so skip tier-up.
// Set before any compile: V8 rejects code caches made under other flags.
setFlagsFromString('--liftoff-only');

// `lading images | head`: a reader that went away is not an error (Go's CLI dies of SIGPIPE
// silently; Node would print an EPIPE stack).
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const dist = join(__dirname, '..', 'dist');
const bundle = join(dist, 'lading.cjs');
if (!existsSync(bundle)) {
  process.stderr.write(`lading: ${bundle} is missing: run \`npm run build\` first\n`);
  process.exit(1);
}
const { runCachedScript } = require(join(dist, 'cached-script.cjs'));
const { main } = runCachedScript(bundle).exports;
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
