// Bundles the compiled CLI (dist/src/cli/index.js) into one CommonJS file, dist/lading.cjs, which
// bin/lading.js runs through V8's code cache (with dist/cached-script.cjs, made here too).
// Resolving and compiling ~120 separate ES modules cost every command over 100 ms of start-up on
// top of Node's own; one cached script does not. The HTTP client (undici) is a second cached
// bundle, dist/http-agent.cjs, loaded by the commands that reach a registry.
// The library keeps its ES modules; the unpack worker still loads dist/src/archive/*.js.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = resolve(root, 'dist');
const pkg = JSON.parse(await readFile(resolve(root, 'package.json'), 'utf8'));
// The code cache runner as tsc just compiled it: its stamp format is the one to write.
const { stampSource } = await import(pathToFileURL(resolve(dist, 'src/util/cached-script.js')).href);

// Each module's import.meta.url, as the path of its compiled file relative to the bundle, so the
// package can move: apply-layer-file finds its worker script and createRequire resolves packages
// exactly as from the unbundled file.
const importMetaUrl = {
  name: 'import-meta-url',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]src[\\/].*\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const rel = relative(dist, args.path).split(sep).join('/');
      return {
        contents: source.replaceAll('import.meta.url', `__ladingModuleUrl(${JSON.stringify(rel)})`),
        loader: 'js',
        resolveDir: dirname(args.path),
      };
    });
  },
};

// Built-ins that only some commands use load on first use. Every module of the bundle runs its
// imports at start-up, and Node compiles each built-in then (Debian's node has no code cache for
// them): crypto, child_process (commander's), worker_threads, http… cost `lading images` ~25 ms
// it never uses. Their require() calls in the output become a proxy that requires the real module
// on its first property access. esbuild emits named imports of built-ins as plain
// `var x = require("node:…")`, so rewriting the output is exact; lines do not move (source map).
// node:fs, node:path and node:stream stay eager: every command uses them.
const LAZY_BUILTINS = ['child_process', 'crypto', 'fs/promises', 'http', 'https', 'net', 'os', 'stream/promises', 'timers/promises', 'worker_threads'];
const LAZY_BUILTIN_PROXY = `const __ladingLazyBuiltin = (id) => {
  let m;
  const real = () => (m ??= require(id));
  return new Proxy({}, {
    get: (_, k) => real()[k],
    has: (_, k) => k in real(),
    ownKeys: () => Reflect.ownKeys(real()),
    getOwnPropertyDescriptor: (_, k) => {
      const d = Reflect.getOwnPropertyDescriptor(real(), k);
      return d && { ...d, configurable: true };
    },
  });
};`;

// The HTTP client is its own cached script: undici's HTTP/1.1 client is ~500 kB, which in the
// CLI's bundle cost every command ~6 ms of reading and deserializing, and from node_modules cost
// every pull or push ~25 ms of resolving and compiling. The CLI's two imports of
// engine/http-agent.js load dist/http-agent.cjs instead.
const HTTP_AGENT = 'http-agent.cjs';
const httpAgentApart = {
  name: 'http-agent-apart',
  setup(b) {
    b.onResolve({ filter: /[\\/]http-agent\.js$/ }, () => ({ path: HTTP_AGENT, namespace: 'http-agent-apart' }));
    b.onLoad({ filter: /.*/, namespace: 'http-agent-apart' }, () => ({
      loader: 'js',
      contents: `const { runCachedScript } = require('./cached-script.cjs');
        module.exports = runCachedScript(require('node:path').join(__dirname, ${JSON.stringify(HTTP_AGENT)})).exports;`,
    }));
    // Left to the `require` the code cache runner gives the bundle: it resolves from dist/.
    b.onResolve({ filter: /^\.\/cached-script\.cjs$/ }, (args) => ({ path: args.path, external: true }));
  },
};

// undici loads node:http2 (~10 ms) for a client lading never starts: connections offer only
// HTTP/1.1 in ALPN (allowH2 is left false), so no server can choose h2. The bundled undici gets
// what its own code falls back to when Node lacks http2, and a clear error should h2 ever be tried.
const noHttp2 = {
  name: 'undici-without-http2',
  setup(b) {
    b.onResolve({ filter: /^node:http2$/ }, (args) =>
      /[\\/]node_modules[\\/]undici[\\/]/.test(args.importer) ? { path: 'http2', namespace: 'no-http2' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'no-http2' }, () => ({
      loader: 'js',
      contents: `module.exports = { constants: {}, connect() { throw new Error('lading does not speak HTTP/2 (allowH2 must stay false)'); } };`,
    }));
  },
};

/**
 * One CommonJS bundle for runCachedScript: built-ins made lazy, stamped with its SHA-256, which
 * keys its code cache (src/util/cached-script.ts) so no command hashes it. The stamp is one more
 * line at the top, so the map's lines move down one.
 */
async function bundle(entry, out, o) {
  const outfile = resolve(dist, out);
  await build({
    entryPoints: [resolve(dist, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: o.external,
    banner: {
      js: [
        "const __ladingModuleUrl = (p) => require('node:url').pathToFileURL(require('node:path').join(__dirname, p)).href;",
        LAZY_BUILTIN_PROXY,
      ].join('\n'),
    },
    plugins: [importMetaUrl, ...o.plugins],
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  const lazy = new RegExp(`\\brequire\\("node:(${LAZY_BUILTINS.join('|')})"\\)`, 'g');
  const body = (await readFile(outfile, 'utf8')).replace(lazy, (_, id) => `__ladingLazyBuiltin("node:${id}")`);
  await writeFile(outfile, stampSource(body, createHash('sha256').update(body).digest('hex')));
  const map = JSON.parse(await readFile(`${outfile}.map`, 'utf8'));
  map.mappings = `;${map.mappings}`;
  await writeFile(`${outfile}.map`, JSON.stringify(map));
}

// Packages stay where npm put them and load when a command needs them, except those nearly every
// command runs: commander, and better-sqlite3's JavaScript (its addon is opened by path,
// metadata/db.ts; from node_modules its 13 files cost ~7 ms of compiling).
const BUNDLED = new Set(['commander', 'better-sqlite3']);
await bundle('src/cli/index.js', 'lading.cjs', {
  external: Object.keys(pkg.dependencies).filter((d) => !BUNDLED.has(d)),
  plugins: [httpAgentApart],
});
await bundle('src/engine/http-agent.js', HTTP_AGENT, { external: [], plugins: [noHttp2] });

// The launcher is CommonJS (an ES module entry costs the ESM loader's start-up): give it the code
// cache runner in its own module format.
await build({
  entryPoints: [resolve(dist, 'src/util/cached-script.js')],
  outfile: resolve(dist, 'cached-script.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
});
