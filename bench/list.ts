import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { blobs, digestRefs, images, openDatabase, tags } from '../src/metadata/index.js';
import { chainIds, sha256, type Digest } from '../src/oci/index.js';
import { buildImage, file, seedImage, tarLayer } from '../src/testing/index.js';
import { measure } from './measure.js';
import type { BenchContext } from './run.js';

const USAGE = `usage: npm run bench -- list [options]

Builds a store of N images and M tags (rows inserted through the metadata layer; every image has
its own real config and manifest blob and shares one of three small real layer stacks), then
times the CLI process, node start-up included: \`lading images\` (target < 300 ms) and
\`lading rmi -f ID\` of one image (target < 200 ms).

options:
  --images N   images (default 10000)
  --tags M     tags (default 50000)
  --runs R     measured runs of each command (default 7)
  --keep       keep the store (printed)
`;

const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function buildStore(root: string, nImages: number, nTags: number, log: (s: string) => void): Promise<Digest[]> {
  const t0 = Date.now();
  // Three real layer stacks, unpacked as a pull would leave them.
  const l1 = await tarLayer([file('etc/os-release', 'NAME=bench\n')]);
  const l2 = await tarLayer([file('usr/bin/tool', 'tool\n'.repeat(100))]);
  const l3 = await tarLayer([file('app/main.js', 'console.log(1)\n'.repeat(50))]);
  const stacks = [[l1], [l1, l2], [l1, l2, l3]].map((layers) => buildImage({ layers }));
  for (const s of stacks) await seedImage(root, s);
  const db = openDatabase(join(root, 'lading.db'));
  const blobDir = join(root, 'content', 'blobs', 'sha256');
  mkdirSync(blobDir, { recursive: true });
  const ids: Digest[] = [];
  try {
    const repos = Math.max(1, Math.floor(nTags / 50));
    let tagged = 0;
    db.tx((tx) => {
      for (let i = 0; i < nImages; i++) {
        const stack = stacks[i % 3]!;
        const config = Buffer.from(JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          created: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
          config: { Labels: { n: String(i) } },
          rootfs: { type: 'layers', diff_ids: stack.diffIds },
          history: stack.diffIds.map((_, k) => ({ created_by: `layer ${k}` })),
        }));
        const id = sha256(config);
        const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: id, size: config.length }, layers: stack.layers.map((l) => l.descriptor) }));
        const mdigest = sha256(manifest);
        writeFileSync(join(blobDir, id.slice(7)), config);
        writeFileSync(join(blobDir, mdigest.slice(7)), manifest);
        blobs.put(tx, { digest: id, size: config.length, mediaType: OCI_CONFIG });
        blobs.put(tx, { digest: mdigest, size: manifest.length, mediaType: OCI_MANIFEST });
        images.put(tx, {
          id,
          target: { digest: mdigest, mediaType: OCI_MANIFEST, size: manifest.length },
          created: Date.UTC(2024, 0, 1) + i * 60_000,
          platform: { os: 'linux', architecture: 'amd64' },
          labels: { n: String(i) },
          layers: stack.layers.map((l) => l.descriptor.digest),
          chainIds: chainIds(stack.diffIds),
        });
        ids.push(id);
        // Spread the tags evenly: image i gets tags until the running total reaches its share.
        const repo = `registry.example.com/team${i % repos}/app`;
        const want = Math.round(((i + 1) * nTags) / nImages);
        for (let t = 0; tagged < want; t++, tagged++) tags.set(tx, repo, `v${i}-${t}`, id);
        digestRefs.add(tx, repo, mdigest, id);
      }
    });
  } finally {
    db.close();
  }
  log(`store: ${nImages} images, ${nTags} tags built in ${Date.now() - t0} ms`);
  return ids;
}

export async function benchList(args: string[], ctx: BenchContext): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { images: { type: 'string' }, tags: { type: 'string' }, runs: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const nImages = Number(values.images ?? 10_000);
  const nTags = Number(values.tags ?? 50_000);
  const runs = Number(values.runs ?? 7);
  const root = await mkdtemp(join(tmpdir(), 'lading-bench-list-'));
  const bin = process.env.LADING_BIN ?? join(ctx.repoRoot, 'bin', 'lading.js');
  const env = { ...process.env, LADING_ROOT: root, LADING_SNAPSHOTTER: 'native' };
  try {
    const ids = await buildStore(root, nImages, nTags, ctx.log);
    // One at a time, as the commands are: parallel runs would share the 2 CPUs and inflate it.
    const node = [];
    for (let i = 0; i < 5; i++) node.push(await measure(process.execPath, ['-e', '0']));
    const list: number[] = [];
    const listCpu: number[] = [];
    const rmiCpu: number[] = [];
    for (let i = 0; i < runs + 1; i++) {
      const m = await measure(process.execPath, [bin, 'images'], { env });
      if (!m.ok) throw new Error(`lading images failed: ${m.outputTail}`);
      if (i > 0) {
        list.push(m.wallMs); // the first run warms the page cache
        if (m.cpuMs !== null) listCpu.push(m.cpuMs);
      }
    }
    const rmi: number[] = [];
    for (let i = 0; i < runs + 1; i++) {
      const id = ids[(i * 997) % ids.length]!;
      const m = await measure(process.execPath, [bin, 'rmi', '-f', id], { env });
      if (!m.ok) throw new Error(`lading rmi failed: ${m.outputTail}`);
      if (i > 0) {
        rmi.push(m.wallMs);
        if (m.cpuMs !== null) rmiCpu.push(m.cpuMs);
      }
    }
    const result = {
      images: nImages,
      tags: nTags,
      nodeStartupMs: median(node.map((m) => m.wallMs)),
      nodeStartupCpuMs: median(node.map((m) => m.cpuMs ?? 0)),
      imagesMs: { median: median(list), min: Math.min(...list), max: Math.max(...list), cpuMedian: listCpu.length ? median(listCpu) : null, targetMs: 300 },
      rmiMs: { median: median(rmi), min: Math.min(...rmi), max: Math.max(...rmi), cpuMedian: rmiCpu.length ? median(rmiCpu) : null, targetMs: 200 },
    };
    process.stdout.write(
      `lading images (${nImages} images, ${nTags} tags): median ${result.imagesMs.median.toFixed(0)} ms wall, ${result.imagesMs.cpuMedian?.toFixed(0)} ms CPU (min ${result.imagesMs.min.toFixed(0)}, max ${result.imagesMs.max.toFixed(0)}; target < 300)\n` +
        `lading rmi -f ID:                              median ${result.rmiMs.median.toFixed(0)} ms wall, ${result.rmiMs.cpuMedian?.toFixed(0)} ms CPU (min ${result.rmiMs.min.toFixed(0)}, max ${result.rmiMs.max.toFixed(0)}; target < 200)\n` +
        `node -e 0 (baseline):                          median ${result.nodeStartupMs.toFixed(0)} ms wall, ${result.nodeStartupCpuMs.toFixed(0)} ms CPU\n` +
        `${JSON.stringify(result)}\n`,
    );
    return result.imagesMs.median < 300 && result.rmiMs.median < 200 ? 0 : 1;
  } finally {
    if (values.keep) ctx.log(`kept store at ${root}`);
    else await rm(root, { recursive: true, force: true });
  }
}
