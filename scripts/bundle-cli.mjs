// Bundles the compiled CLI (dist/src/cli/index.js) into one CommonJS file, dist/lading.cjs, which
// bin/lading.js runs through V8's code cache (with dist/cached-script.cjs, made here too). Resolving and compiling ~120 separate ES modules
// cost every command over 100 ms of start-up on top of Node's own; one cached script does not.
// The library keeps its ES modules; the unpack worker still loads dist/src/archive/*.js.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = resolve(root, 'dist/lading.cjs');
const pkg = JSON.parse(await readFile(resolve(root, 'package.json'), 'utf8'));

// Each module's import.meta.url, as the path of its compiled file relative to the bundle, so the
// package can move: apply-layer-file finds its worker script and createRequire resolves packages
// exactly as from the unbundled file.
const importMetaUrl = {
  name: 'import-meta-url',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]src[\\/].*\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const rel = relative(dirname(outfile), args.path).split(sep).join('/');
      return {
        contents: source.replaceAll('import.meta.url', `__ladingModuleUrl(${JSON.stringify(rel)})`),
        loader: 'js',
        resolveDir: dirname(args.path),
      };
    });
  },
};

await build({
  entryPoints: [resolve(root, 'dist/src/cli/index.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Packages stay where npm put them: native addons cannot be bundled, and the others load lazily
  // (only when a command needs them). commander parses every command line, so it comes along.
  external: Object.keys(pkg.dependencies).filter((d) => d !== 'commander'),
  banner: {
    js: "const __ladingModuleUrl = (p) => require('node:url').pathToFileURL(require('node:path').join(__dirname, p)).href;",
  },
  plugins: [importMetaUrl],
  sourcemap: 'linked',
  logLevel: 'warning',
});

// The launcher is CommonJS (an ES module entry costs the ESM loader's start-up): give it the code
// cache runner in its own module format.
await build({
  entryPoints: [resolve(root, 'dist/src/util/cached-script.js')],
  outfile: resolve(root, 'dist/cached-script.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
});
