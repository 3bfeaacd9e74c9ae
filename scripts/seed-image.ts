// Builds a small two-layer image in code and pushes it to a registry: the quick start's sample
// image, made offline (no Docker Hub). Usage: node dist/scripts/seed-image.js http://127.0.0.1:5000 demo/hello:1
import { buildImage, dir, file, pushFixture, tarLayer } from '../src/testing/index.js';

const [url, name] = process.argv.slice(2);
if (!url || !name) {
  console.error('usage: seed-image.js REGISTRY_URL REPOSITORY:TAG');
  process.exit(2);
}
const [repository, tag = 'latest'] = name.split(':') as [string, string?];
const base = await tarLayer([dir('etc'), file('etc/os-release', 'NAME="lading demo"\n'), dir('bin')]);
const app = await tarLayer([dir('app'), file('app/hello.txt', 'hello from lading\n')]);
const image = buildImage({
  layers: [base, app],
  config: { Cmd: ['cat', '/app/hello.txt'], Labels: { 'org.opencontainers.image.title': 'lading demo' } },
});
await pushFixture(url, repository, image, tag);
console.log(`pushed ${name} (${image.manifest.descriptor.digest})`);
