// Image management over a real store (SQLite + files) seeded in code: images, tag, rmi, prune,
// history, system df and check, through the CLI entry point with an injected clock.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, writeFileSync, chmodSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/index.js';
import { buildImage, captureIo, dir, file, seedImage, tarLayer, type FixtureImage } from '../src/testing/index.js';

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'lading-manage-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

let n = 0;
const freshRoot = () => join(work, `root${n++}`);
const DAY = 86_400_000;
const T0 = Date.parse('2024-03-01T00:00:00Z');

async function lading(root: string, args: string[], o: { now?: number; stdin?: string } = {}) {
  const io = captureIo({
    env: { ...process.env, LADING_ROOT: root, LADING_SNAPSHOTTER: 'native', DOCKER_CONFIG: join(root, '.docker'), TZ: 'UTC' },
    now: () => o.now ?? T0 + 3 * DAY,
    ...(o.stdin !== undefined ? { stdin: o.stdin } : {}),
  });
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}

/** Data bytes on disk: blob files plus layer files (unique inodes), what removal frees. */
function diskBytes(root: string): number {
  const seen = new Set<number>();
  let total = 0;
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && !seen.has(st.ino)) {
        seen.add(st.ino);
        total += st.size;
      }
    }
  };
  walk(join(root, 'content', 'blobs'));
  const snaps = join(root, 'snapshots', 'snapshots');
  for (const s of readdirSync(snaps)) if (!s.startsWith('.')) walk(join(snaps, s, 'fs'));
  return total;
}

const short = (img: FixtureImage) => img.config.descriptor.digest.slice(7, 19);

// The seeds' repository: latest and v1 on one image, v2 on another, sharing a base layer.
async function tuDemo(root: string) {
  const base = await tarLayer([dir('etc'), file('etc/os', 'base\n')]);
  const v1 = buildImage({
    layers: [base, await tarLayer([file('app.txt', 'v1 app\n')])],
    created: '2024-02-01T00:00:00Z',
    config: { Labels: { tier: 'web', team: 'a' } },
  });
  const v2 = buildImage({ layers: [base, await tarLayer([file('app.txt', 'v2 app, bigger\n')])], created: '2024-02-20T00:00:00Z' });
  const alpine = buildImage({ layers: [await tarLayer([file('alpine', 'alpine\n')])], created: '2024-01-01T00:00:00Z' });
  await seedImage(root, v1, { tags: ['nigelpoulton/tu-demo:latest', 'nigelpoulton/tu-demo:v1'], digestRepos: ['nigelpoulton/tu-demo'], usedAt: T0 });
  await seedImage(root, v2, { tags: ['nigelpoulton/tu-demo:v2'], usedAt: T0 + DAY });
  await seedImage(root, alpine, { tags: ['alpine:latest'], usedAt: T0 + 2 * DAY });
  return { v1, v2, alpine };
}

describe('images: rows, formats and filters', () => {
  let root: string;
  let imgs: Awaited<ReturnType<typeof tuDemo>>;
  before(async () => {
    root = freshRoot();
    imgs = await tuDemo(root);
  });

  test('default table, -q, --digests, --no-trunc', async () => {
    const { v1, v2, alpine } = imgs;
    const r = await lading(root, ['images']);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      [
        'REPOSITORY             TAG       IMAGE ID       CREATED        SIZE',
        `nigelpoulton/tu-demo   v2        ${short(v2)}   13 days ago    20B`,
        `nigelpoulton/tu-demo   latest    ${short(v1)}   4 weeks ago    12B`,
        `nigelpoulton/tu-demo   v1        ${short(v1)}   4 weeks ago    12B`,
        `alpine                 latest    ${short(alpine)}   2 months ago   7B`,
        '',
      ].join('\n'),
    );
    assert.equal((await lading(root, ['images', '-q'])).out, [v2, v1, v1, alpine].map((i) => `${short(i)}\n`).join(''));
    assert.equal((await lading(root, ['image', 'ls', '-q', '--no-trunc', 'alpine'])).out, `${alpine.config.descriptor.digest}\n`);
    const d = (await lading(root, ['images', '--digests', 'nigelpoulton/tu-demo'])).out.split('\n');
    assert.match(d[0]!, /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.equal(d[3]!.split(/\s+/).slice(0, 3).join(' '), `nigelpoulton/tu-demo v1 ${v1.manifest.descriptor.digest}`);
  });

  test('--format: json lines, Go templates, table templates, -q with a format, unknown fields', async () => {
    const { v2, alpine } = imgs;
    const j = await lading(root, ['images', '--format', 'json', 'alpine']);
    assert.equal(
      j.out,
      `{"Containers":"N/A","CreatedAt":"2024-01-01 00:00:00 +0000 UTC","CreatedSince":"2 months ago","Digest":"\\u003cnone\\u003e",` +
        `"ID":"${short(alpine)}","Repository":"alpine","SharedSize":"N/A","Size":"7B","Tag":"latest","UniqueSize":"N/A","VirtualSize":"7B"}\n`,
    );
    assert.equal((await lading(root, ['images', '--format', '{{.ID}}\\t{{.Repository}}:{{.Tag}}', 'alpine'])).out, `${short(alpine)}\talpine:latest\n`);
    assert.equal(
      (await lading(root, ['images', '--format', 'table {{.Repository}}\\t{{.Tag}}\\t{{.CreatedAt}}', '*/*:v2'])).out,
      'REPOSITORY             TAG       CREATED AT\nnigelpoulton/tu-demo   v2        2024-02-20 00:00:00 +0000 UTC\n',
    );
    // .Digest in the template shows digests; -q yields to the format.
    assert.equal(
      (await lading(root, ['images', '-q', '--format', '{{.Tag}} {{.Digest}}', 'nigelpoulton/tu-demo'])).out,
      `v2 <none>\nlatest ${imgs.v1.manifest.descriptor.digest}\nv1 ${imgs.v1.manifest.descriptor.digest}\n`,
    );
    assert.equal((await lading(root, ['images', '--format', 'table {{.Tag}}', '--digests', '*/*:v2'])).out, 'TAG       DIGEST\nv2        <none>\n');
    const bad = await lading(root, ['images', '--format', '{{.Nope}}']);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, 'template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.imageContext\n');
    assert.equal(short(v2).length, 12);
  });

  test("filters: the seeds' dangling=true and reference='*:latest', labels, before/since/until, errors", async () => {
    const { v1, v2, alpine } = imgs;
    const ids = async (...args: string[]) => {
      const r = await lading(root, ['images', '--format', '{{.Repository}}:{{.Tag}}', ...args]);
      assert.equal(r.err, '');
      return r.out.split('\n').filter(Boolean);
    };
    assert.equal((await lading(root, ['images', '--filter', 'dangling=true'])).out, 'REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n');
    assert.deepEqual(await ids('--filter=reference=*:latest'), ['alpine:latest']);
    assert.deepEqual(await ids('-f', 'reference=*/*:latest'), ['nigelpoulton/tu-demo:latest']);
    assert.deepEqual(await ids('-f', 'reference=*:latest', '-f', 'reference=*/*:v?'), ['nigelpoulton/tu-demo:v2', 'nigelpoulton/tu-demo:v1', 'alpine:latest']);
    assert.deepEqual(await ids('nigelpoulton/tu-demo'), ['nigelpoulton/tu-demo:v2', 'nigelpoulton/tu-demo:latest', 'nigelpoulton/tu-demo:v1']);
    assert.deepEqual(await ids('docker.io/library/alpine'), []);
    assert.deepEqual(await ids('-f', 'label=tier'), ['nigelpoulton/tu-demo:latest', 'nigelpoulton/tu-demo:v1']);
    assert.deepEqual(await ids('-f', 'label=tier=web', '-f', 'label=team=b'), []);
    assert.deepEqual(await ids('-f', `before=${short(v2)}`), ['nigelpoulton/tu-demo:latest', 'nigelpoulton/tu-demo:v1', 'alpine:latest']);
    assert.deepEqual(await ids('-f', 'since=alpine'), ['nigelpoulton/tu-demo:v2', 'nigelpoulton/tu-demo:latest', 'nigelpoulton/tu-demo:v1']);
    // Several since values: the last one wins (the reference's recommendation).
    assert.deepEqual(await ids('-f', 'since=alpine', '-f', 'since=nigelpoulton/tu-demo:v1'), ['nigelpoulton/tu-demo:v2']);
    assert.deepEqual(await ids('-f', 'until=2024-02-10'), ['nigelpoulton/tu-demo:latest', 'nigelpoulton/tu-demo:v1', 'alpine:latest']);
    assert.deepEqual(await ids('-f', 'until=40d'), ['alpine:latest']);
    assert.deepEqual(await ids('-f', 'dangling=false', '-f', `since=${v1.config.descriptor.digest}`), ['nigelpoulton/tu-demo:v2']);
    assert.equal(short(alpine).length, 12);

    const cases: Array<[string[], number, string]> = [
      [['-f', 'foo=bar'], 1, "Error response from daemon: Invalid filter 'foo'\n"],
      [['-f', 'dangling=maybe'], 1, "Error response from daemon: Invalid filter 'dangling=[maybe]'\n"],
      [['-f', 'label!=x'], 1, "Error response from daemon: Invalid filter 'label!'\n"],
      [['-f', 'before=nosuch'], 1, 'Error response from daemon: No such image: nosuch:latest\n'],
      [['-f', 'reference=['], 1, 'Error response from daemon: syntax error in pattern\n'],
      [['-f', 'until=notatime'], 1, 'Error response from daemon: failed to parse value as time or duration: "notatime"\n'],
      [['-f', 'nonsense'], 125, 'invalid argument "nonsense" for "-f, --filter" flag: bad format of filter (expected name=value)\n'],
    ];
    for (const [args, code, err] of cases) {
      const r = await lading(root, ['images', ...args]);
      assert.deepEqual([r.code, r.err, r.out], [code, err, ''], args.join(' '));
    }
  });

  test('inspect --format and history', async () => {
    const r = await lading(root, ['image', 'inspect', '--format', '{{.Id}} {{index .RepoTags 0}} {{json .Config.Labels}}', 'nigelpoulton/tu-demo:v1']);
    assert.equal(r.out, `${imgs.v1.config.descriptor.digest} nigelpoulton/tu-demo:latest {"team":"a","tier":"web"}\n`);
  });
});

describe('tag and rmi', () => {
  test('tags by name, ID, short ID and digest; a moved tag leaves the old image dangling', async () => {
    const root = freshRoot();
    const { v1, v2 } = await tuDemo(root);
    assert.deepEqual(await lading(root, ['tag', short(v1), 'mine:one']), { code: 0, out: '', err: '' });
    assert.equal((await lading(root, ['tag', `nigelpoulton/tu-demo@${v1.manifest.descriptor.digest}`, 'mine:two'])).code, 0);
    assert.equal((await lading(root, ['image', 'tag', v2.config.descriptor.digest, 'mine'])).code, 0);
    assert.equal((await lading(root, ['images', '--format', '{{.Tag}}={{.ID}}', 'mine'])).out, `latest=${short(v2)}\none=${short(v1)}\ntwo=${short(v1)}\n`);
    // Move every tag of v1 away: it becomes <none> <none> only once its digest reference goes too.
    for (const t of ['nigelpoulton/tu-demo:latest', 'nigelpoulton/tu-demo:v1', 'mine:one', 'mine:two']) {
      assert.equal((await lading(root, ['tag', 'nigelpoulton/tu-demo:v2', t])).code, 0);
    }
    const dangling = await lading(root, ['images', '-f', 'dangling=true', '--format', '{{.Repository}} {{.Tag}} {{.ID}}']);
    assert.equal(dangling.out, `nigelpoulton/tu-demo <none> ${short(v1)}\n`);
    assert.equal((await lading(root, ['rmi', `nigelpoulton/tu-demo@${v1.manifest.descriptor.digest}`])).code, 0);
    assert.equal((await lading(root, ['images', '-f', 'dangling=true', '--format', '{{.Repository}} {{.Tag}} {{.ID}}'])).out, '');
    const errs: Array<[string[], string]> = [
      [['tag', 'nosuch', 'x'], 'Error response from daemon: No such image: nosuch:latest\n'],
      [['tag', 'mine', 'Bad'], 'Error parsing reference: "Bad" is not a valid repository/tag: invalid reference format: repository name (library/Bad) must be lowercase\n'],
      [['tag', 'mine', `x@${v1.manifest.descriptor.digest}`], 'Error parsing reference: "x@' + v1.manifest.descriptor.digest + '" is not a valid repository/tag: refusing to create a tag with a digest reference\n'],
    ];
    for (const [args, err] of errs) {
      const r = await lading(root, args);
      assert.deepEqual([r.code, r.err], [1, err], args.join(' '));
    }
  });

  test('rmi: untag versus delete, conflicts, shared layers, several arguments, dry run bytes', async () => {
    const root = freshRoot();
    const { v1, v2, alpine } = await tuDemo(root);
    const conflict = await lading(root, ['rmi', short(v1)]);
    assert.deepEqual([conflict.code, conflict.out, conflict.err], [1, '', `Error response from daemon: conflict: unable to delete ${short(v1)} (must be forced) - image is referenced in multiple repositories\n`]);

    const untag = await lading(root, ['rmi', 'nigelpoulton/tu-demo:latest']);
    assert.deepEqual([untag.code, untag.out], [0, 'Untagged: nigelpoulton/tu-demo:latest\n']);

    // v1's last tag takes its digest reference; its own layer goes, the shared base stays for v2.
    const before = diskBytes(root);
    const dry = await lading(root, ['rmi', '--dry-run', 'nigelpoulton/tu-demo:v1', 'nosuch']);
    const chain1 = (await import('../src/oci/index.js')).chainIds(v1.diffIds);
    const expectLines = [
      'Untagged: nigelpoulton/tu-demo:v1',
      `Untagged: nigelpoulton/tu-demo@${v1.manifest.descriptor.digest}`,
      `Deleted: ${v1.config.descriptor.digest}`,
      `Deleted: ${chain1[1]}`,
    ];
    assert.equal(dry.code, 1);
    assert.equal(dry.err, 'Error response from daemon: No such image: nosuch:latest\n');
    const m = /^Would reclaim: \S+ \((\d+) bytes\)$/m.exec(dry.out);
    assert.ok(m, dry.out);
    assert.equal(dry.out, `${expectLines.map((l) => l.replace(/^Untagged:/, 'Would untag:').replace(/^Deleted:/, 'Would delete:')).join('\n')}\n${m[0]}\n`);
    assert.equal(diskBytes(root), before, 'a dry run deletes nothing');

    const real = await lading(root, ['rmi', 'nigelpoulton/tu-demo:v1', 'nosuch']);
    assert.equal(real.code, 1);
    assert.equal(real.out, `${expectLines.join('\n')}\n`);
    assert.equal(before - diskBytes(root), Number(m[1]), 'the dry run reported exactly the bytes freed');
    assert.equal((await lading(root, ['history', '-q', 'nigelpoulton/tu-demo:v2'])).code, 0, 'v2 still has the shared base');
    assert.equal((await lading(root, ['system', 'check'])).out, 'no problems found\n');

    // The seeds' `rmi $(images -q) -f`: duplicates are "No such image" and the exit code stays 0.
    assert.equal((await lading(root, ['tag', 'alpine', 'alpine:again'])).code, 0);
    const q = (await lading(root, ['images', '-q'])).out.trim().split('\n');
    assert.deepEqual(q, [short(v2), short(alpine), short(alpine)]);
    const all = await lading(root, ['rmi', ...q, '-f']);
    assert.equal(all.code, 0);
    assert.equal(all.err, `Error response from daemon: No such image: ${short(alpine)}:latest\n`);
    assert.match(all.out, new RegExp(`^Untagged: nigelpoulton/tu-demo:v2\nDeleted: ${v2.config.descriptor.digest}\nDeleted: sha256:\\w+\nDeleted: sha256:\\w+\nUntagged: alpine:again\nUntagged: alpine:latest\nDeleted: ${alpine.config.descriptor.digest}\nDeleted: ${alpine.diffIds[0]}\n$`));
    assert.equal((await lading(root, ['images', '-a', '-q'])).out, '');
    assert.equal(diskBytes(root), 0, 'every blob and layer file is gone');
    assert.equal((await lading(root, ['system', 'check'])).out, 'no problems found\n');
  });
});

describe('prune, df, history, check', () => {
  test('prune: dangling only, the prompt, -a, Total reclaimed space equal to bytes freed', async () => {
    const root = freshRoot();
    const { v1, v2 } = await tuDemo(root);
    // v1 loses its tags (its digest reference makes it dangling, not <none> <none>).
    for (const t of ['nigelpoulton/tu-demo:latest', 'nigelpoulton/tu-demo:v1']) await lading(root, ['tag', short(v2), t]);
    const cancel = await lading(root, ['image', 'prune'], { stdin: 'yes\n' });
    assert.deepEqual([cancel.code, cancel.out], [0, 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ']);
    const before = diskBytes(root);
    const p = await lading(root, ['image', 'prune'], { stdin: ' y \n' });
    const chain = (await import('../src/oci/index.js')).chainIds(v1.diffIds);
    const freed = before - diskBytes(root);
    assert.equal(
      p.out,
      'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] Deleted Images:\n' +
        `untagged: nigelpoulton/tu-demo@${v1.manifest.descriptor.digest}\ndeleted: ${v1.config.descriptor.digest}\ndeleted: ${chain[1]}\n\n` +
        `Total reclaimed space: ${(await import('../src/util/index.js')).humanSize(freed, 4)}\n`,
    );
    assert.equal((await lading(root, ['image', 'prune', '-f'])).out, 'Total reclaimed space: 0B\n');
    const dry = await lading(root, ['image', 'prune', '-a', '--dry-run']);
    const bytes = Number(/\((\d+) bytes\)/.exec(dry.out)![1]);
    const b2 = diskBytes(root);
    const all = await lading(root, ['image', 'prune', '-a', '-f']);
    assert.match(all.out, /^Deleted Images:\nuntagged: nigelpoulton\/tu-demo:latest\n(.*\n)*untagged: alpine:latest\n/);
    assert.equal(b2 - diskBytes(root), bytes);
    assert.equal(diskBytes(root), 0);
    assert.equal(dry.out.replace(/^Would delete images:\n/, 'Deleted Images:\n').replace(/Would reclaim: .*\n$/, ''), all.out.replace(/Total reclaimed space: .*\n$/, ''));
  });

  test('prune --unused-for and --keep-storage by last use, with the injected clock; filters', async () => {
    const root = freshRoot();
    const { v1, v2, alpine } = await tuDemo(root); // last used: v1 T0, v2 T0+1d, alpine T0+2d
    const now = T0 + 10 * DAY;
    const names = async () => (await lading(root, ['images', '--format', '{{.ID}}'], { now })).out.trim().split('\n');
    // Inspecting counts as a use: v1 becomes the most recent.
    assert.equal((await lading(root, ['image', 'inspect', 'nigelpoulton/tu-demo:v1'], { now: T0 + 9 * DAY })).code, 0);
    const r = await lading(root, ['image', 'prune', '-a', '-f', '--unused-for', '8d'], { now });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(new Set(await names()), new Set([short(v1)]));
    assert.ok(r.out.includes(`deleted: ${v2.config.descriptor.digest}`) && r.out.includes(`deleted: ${alpine.config.descriptor.digest}`));

    const root2 = freshRoot();
    await tuDemo(root2);
    const total = diskBytes(root2);
    // Keep a bit less than everything: exactly the least recently used image (v1) goes.
    const dry = await lading(root2, ['image', 'prune', '-a', '--keep-storage', String(total - 1), '--dry-run'], { now });
    assert.match(dry.out, new RegExp(`deleted: ${v1.config.descriptor.digest}`));
    assert.doesNotMatch(dry.out, new RegExp(`deleted: (${v2.config.descriptor.digest}|${alpine.config.descriptor.digest})`));
    const freedDry = Number(/\((\d+) bytes\)/.exec(dry.out)![1]);
    await lading(root2, ['image', 'prune', '-a', '-f', '--keep-storage', String(total - 1)], { now });
    assert.equal(total - diskBytes(root2), freedDry);
    assert.deepEqual((await lading(root2, ['images', '--format', '{{.Tag}}'], { now })).out, 'v2\nlatest\n');
    // Nothing more goes when the store already fits.
    assert.equal((await lading(root2, ['image', 'prune', '-a', '-f', '--keep-storage', '1GB'], { now })).out, 'Total reclaimed space: 0B\n');

    const root3 = freshRoot();
    await tuDemo(root3);
    const f = await lading(root3, ['image', 'prune', '-a', '-f', '--filter', 'label=tier', '--filter', 'until=2024-02-10T00:00:00Z'], { now });
    assert.match(f.out, /untagged: nigelpoulton\/tu-demo:latest/);
    assert.deepEqual((await lading(root3, ['images', '--format', '{{.Repository}}:{{.Tag}}'], { now })).out, 'nigelpoulton/tu-demo:v2\nalpine:latest\n');
    const notLabel = await lading(root3, ['image', 'prune', '-a', '-f', '--filter', 'label!=tier'], { now });
    assert.match(notLabel.out, /untagged: alpine:latest/);
    const bad = await lading(root3, ['image', 'prune', '-f', '--filter', 'foo=1']);
    assert.deepEqual([bad.code, bad.err], [1, "Error response from daemon: Invalid filter 'foo'\n"]);
  });

  test('history: <missing> rows, 0B metadata steps, --no-trunc, -q, --format json', async () => {
    const root = freshRoot();
    const long = `/bin/sh -c echo ${'x'.repeat(60)} >\t/f`;
    const img = buildImage({
      layers: [await tarLayer([file('a', '12345')]), await tarLayer([file('b', 'abc')])],
      created: '2024-02-28T00:00:00Z',
      history: [
        { created: '2024-02-27T00:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:abc in /' },
        { created: '2024-02-27T00:00:00Z', created_by: '/bin/sh -c #(nop)  ENV A=1', empty_layer: true },
        { created: '2024-02-28T00:00:00Z', created_by: long, comment: 'hi' },
        { created: '2024-02-29T00:00:00Z', created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
      ],
    });
    await seedImage(root, img, { tags: ['hist:1'] });
    const r = await lading(root, ['history', 'hist:1']);
    assert.equal(
      r.out,
      [
        'IMAGE          CREATED      CREATED BY                                      SIZE      COMMENT',
        `${short(img)}   4 days ago   /bin/sh -c #(nop)  CMD ["sh"]                   0B        `,
        `<missing>      5 days ago   /bin/sh -c echo xxxxxxxxxxxxxxxxxxxxxxxxxxxx…   3B        hi`,
        '<missing>      6 days ago   /bin/sh -c #(nop)  ENV A=1                      0B        ',
        '<missing>      6 days ago   /bin/sh -c #(nop) ADD file:abc in /             5B        ',
        '',
      ].join('\n'),
    );
    assert.equal((await lading(root, ['image', 'history', '-q', 'hist:1'])).out, `${short(img)}\n<missing>\n<missing>\n<missing>\n`);
    const full = await lading(root, ['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}', 'hist:1']);
    assert.equal(full.out.split('\n')[1], `<missing>|${long.replace('\t', ' ')}|3B`);
    assert.equal(full.out.split('\n')[0], `${img.config.descriptor.digest}|/bin/sh -c #(nop)  CMD ["sh"]|0B`);
    const j = await lading(root, ['history', '--format', 'json', 'hist:1']);
    assert.equal(j.out.split('\n')[3], '{"Comment":"","CreatedAt":"2024-02-27T00:00:00Z","CreatedBy":"/bin/sh -c #(nop) ADD file:abc in /","CreatedSince":"6 days ago","ID":"\\u003cmissing\\u003e","Size":"5B"}');
    const nf = await lading(root, ['history', 'nosuch']);
    assert.deepEqual([nf.code, nf.err], [1, 'Error response from daemon: No such image: nosuch:latest\n']);
  });

  test('system df: unique sizes are exactly what removing each image frees', async () => {
    const root = freshRoot();
    const { v1, v2, alpine } = await tuDemo(root);
    const total = diskBytes(root);
    const df = await lading(root, ['system', 'df']);
    const { humanSize } = await import('../src/util/index.js');
    assert.equal(
      df.out,
      [
        'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE',
        `Images          3         0         ${humanSize(total, 4).padEnd(10)}${humanSize(total, 4)} (100%)`,
        'Containers      0         0         0B        0B',
        'Local Volumes   0         0         0B        0B',
        'Build Cache     0         0         0B        0B',
        '',
      ].join('\n'),
    );
    const v = (await lading(root, ['system', 'df', '-v'])).out.split('\n');
    assert.equal(v[0], 'Images space usage:');
    assert.match(v[2]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\s+UNIQUE SIZE\s+CONTAINERS$/);
    const engine = (await import('../src/engine/index.js')).createEngine(
      (await import('../src/engine/index.js')).resolveConfig({ flags: { root }, env: { LADING_SNAPSHOTTER: 'native' } }),
    );
    try {
      const u = engine.diskUsage();
      assert.equal(u.totalBytes, total);
      assert.deepEqual(u.images.map((i) => i.id), [v2, v1, alpine].map((i) => i.config.descriptor.digest));
      for (const i of u.images) {
        const dry = await engine.removeImages([i.id], { force: true, dryRun: true });
        assert.equal(dry.bytes, i.uniqueSize, `unique size of ${i.id}`);
        assert.equal(i.size - i.sharedSize, i.uniqueSize);
      }
      // v1 and v2 share the base layer (blob and snapshot); alpine shares nothing.
      assert.ok(u.images[0]!.sharedSize > 0 && u.images[2]!.sharedSize === 0);
      assert.equal(u.images[0]!.sharedSize, u.images[1]!.sharedSize);
    } finally {
      engine.close();
    }
  });

  test('system df --format: templates per type, json lines, and with -v one report over the images', async () => {
    const root = freshRoot();
    const { v1, v2, alpine } = await tuDemo(root);
    const { humanSize } = await import('../src/util/index.js');
    const total = humanSize(diskBytes(root), 4);
    const plain = await lading(root, ['system', 'df', '--format', '{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}']);
    assert.deepEqual(plain, {
      code: 0,
      out: `Images|3|0|${total}|${total} (100%)\nContainers|0|0|0B|0B\nLocal Volumes|0|0|0B|0B\nBuild Cache|0|0|0B|0B\n`,
      err: '',
    });
    const table = (await lading(root, ['system', 'df', '--format', 'table {{.Type}}\t{{.Size}}'])).out.split('\n');
    assert.deepEqual(table.slice(0, 2), ['TYPE            SIZE', `Images          ${total}`]);
    const json = (await lading(root, ['system', 'df', '--format', 'json'])).out.trim().split('\n').map((l) => JSON.parse(l) as unknown);
    assert.deepEqual(json[0], { Active: '0', Reclaimable: `${total} (100%)`, Size: total, TotalCount: '3', Type: 'Images' });
    assert.equal(json.length, 4);

    const report = JSON.parse((await lading(root, ['system', 'df', '-v', '--format', 'json'])).out) as {
      Images: Array<Record<string, string>>;
      Containers: unknown[];
    };
    const ids = [v2, v1, alpine].map(short);
    assert.deepEqual(report.Images.map((i) => i.ID), ids);
    assert.deepEqual(Object.keys(report.Images[0]!), ['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize']);
    assert.deepEqual(report.Containers, []);
    const ranged = await lading(root, ['system', 'df', '-v', '--format', '{{range .Images}}{{.ID}} {{.UniqueSize}};{{end}}']);
    const engine = (await import('../src/engine/index.js')).createEngine(
      (await import('../src/engine/index.js')).resolveConfig({ flags: { root }, env: { LADING_SNAPSHOTTER: 'native' } }),
    );
    try {
      const u = engine.diskUsage();
      assert.equal(ranged.out, `${u.images.map((i) => `${i.id.slice(7, 19)} ${humanSize(i.uniqueSize)};`).join('')}\n`);
    } finally {
      engine.close();
    }
    const vt = (await lading(root, ['system', 'df', '-v', '--format', 'table {{.ID}}\t{{.SharedSize}}'])).out.split('\n');
    assert.deepEqual(vt.slice(0, 3), ['Images space usage:', '', 'IMAGE ID       SHARED SIZE']);
    assert.equal(vt[3]!.split(/\s+/)[0], ids[0]);
  });

  test('system check finds a corrupt blob and a missing snapshot; --repair removes the broken images', async () => {
    const root = freshRoot();
    const { v1, alpine } = await tuDemo(root);
    assert.deepEqual(await lading(root, ['system', 'check']), { code: 0, out: 'no problems found\n', err: '' });
    const layer = v1.layers[1]!.descriptor.digest;
    const path = join(root, 'content', 'blobs', 'sha256', layer.slice(7));
    chmodSync(path, 0o644);
    writeFileSync(path, Buffer.alloc(v1.layers[1]!.descriptor.size, 1));
    const { createHash } = await import('node:crypto');
    const found = `sha256:${createHash('sha256').update(Buffer.alloc(v1.layers[1]!.descriptor.size, 1)).digest('hex')}`;
    const { chainIds } = await import('../src/oci/index.js');
    const snapDir = join(root, 'snapshots', 'snapshots', createHash('sha256').update(chainIds(alpine.diffIds)[0]!).digest('hex'));
    await rm(snapDir, { recursive: true });
    const r = await lading(root, ['system', 'check']);
    assert.equal(r.code, 1);
    assert.equal(
      r.out,
      `blob ${layer}: corrupt (content hashes to ${found}) (needed by ${short(v1)})\n` +
        `snapshot ${alpine.diffIds[0]}: missing (needed by ${short(alpine)})\n` +
        "2 problems found; run 'lading system check --repair' to fix\n",
    );
    const fix = await lading(root, ['system', 'check', '--repair']);
    assert.equal(fix.code, 0, fix.err);
    assert.match(fix.out, new RegExp(`repaired: removed incomplete image ${v1.config.descriptor.digest} \\(nigelpoulton/tu-demo:latest, nigelpoulton/tu-demo:v1, nigelpoulton/tu-demo@${v1.manifest.descriptor.digest}\\): pull it again`));
    assert.match(fix.out, /2 problems found and repaired\n$/);
    assert.deepEqual(await lading(root, ['system', 'check']), { code: 0, out: 'no problems found\n', err: '' });
    assert.equal((await lading(root, ['images', '--format', '{{.Tag}}'])).out, 'v2\n');
  });
});
