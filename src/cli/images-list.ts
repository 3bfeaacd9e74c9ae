import type { Command } from 'commander';
import { shortId } from '../oci/index.js';
import { humanDuration, humanSize } from '../util/index.js';
import { imageRows, type ImageRow, type ImageRowColumns } from '../engine/index.js';
import type { CommandContext } from './context.js';
import { GO_ZERO_TIME, goLocalTime, parseFilterFlags, parseFormat, renderTemplate } from './format.js';
import { GoTemplate, TemplateContext } from './go-template.js';

export const collectValues = (v: string, prev: string[] = []): string[] => [...prev, v];

const IMAGE_HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'SIZE',
};


/** Docker's imageContext: every field a string, computed on demand. */
function imageContext(r: ImageRow, o: { trunc: boolean; now: number }): TemplateContext {
  return new TemplateContext('*formatter.imageContext', {
    ID: () => (o.trunc ? shortId(r.id) : r.id),
    Repository: r.repository,
    Tag: r.tag,
    Digest: r.digest,
    CreatedSince: () => (r.created === undefined ? '' : `${humanDuration(o.now - r.created)} ago`),
    CreatedAt: () => (r.created === undefined ? GO_ZERO_TIME : goLocalTime(r.created)),
    Size: () => humanSize(r.size),
    Containers: 'N/A',
    SharedSize: 'N/A',
    UniqueSize: 'N/A',
    VirtualSize: () => humanSize(r.size, 4),
  });
}

interface ListOpts {
  quiet?: boolean;
  all?: boolean;
  digests?: boolean;
  trunc: boolean;
  format?: string;
  filter?: string[];
}

/** `images` / `image ls [REPOSITORY[:TAG]]` (behaviour §3). */
export function registerImagesList(cmd: Command, ctx: CommandContext): Command {
  return cmd
    .argument('[repository]', 'REPOSITORY[:TAG]')
    .option('-q, --quiet', 'only show image IDs')
    .option('-a, --all', 'show all images (default hides intermediate images)')
    .option('--digests', 'show digests')
    .option('--no-trunc', "don't truncate output")
    .option('--format <format>', "format output: 'table', 'table TEMPLATE', 'json' or a Go template")
    .option('-f, --filter <filter>', 'filter output based on conditions provided (repeatable)', collectValues)
    .description('List images')
    .action((repository: string | undefined, opts: ListOpts) => {
      const filters = parseFilterFlags(opts.filter);
      // The CLI sends the positional argument as one more reference filter.
      if (repository) (filters.reference ??= []).push(repository);
      const format = parseFormat(opts.format);
      const now = ctx.io.now();
      const id = (d: string) => (opts.trunc ? shortId(d) : d);

      if (format.template) {
        const images = ctx.engine.get().listImages({ all: opts.all === true, filters });
        const rows = imageRows(images, { digests: opts.digests === true || format.template.mentions('Digest') });
        let f = format;
        if (f.kind === 'table' && opts.digests && !f.template!.mentions('Digest')) {
          f = { kind: 'table', template: new GoTemplate(`${f.template!.source}\t{{.Digest}}`) };
        }
        const contexts = rows.map((r) => imageContext(r, { trunc: opts.trunc, now }));
        ctx.io.stdout.write(renderTemplate(f as typeof f & { template: GoTemplate }, contexts, IMAGE_HEADERS, '*formatter.imageContext'));
        return;
      }
      // The table and -q: rows column-wise, a store of 50k tags lists without an object per row.
      const digests = opts.digests === true;
      const rows = ctx.engine.get().listImageRows({ all: opts.all === true, filters, digests });
      if (opts.quiet) {
        let buf = '';
        for (let i = 0, n = rows.length; i < n; i++) {
          buf += `${id(rows.images[rows.image[i]!]!.id)}\n`;
          if (buf.length > CHUNK) {
            ctx.io.stdout.write(buf);
            buf = '';
          }
        }
        ctx.io.stdout.write(buf);
        return;
      }
      writeImageTable(ctx.io.stdout, rows, { digests, id, now });
    });
}

/** Spaces to pad a cell to its column: shared strings instead of a padEnd copy per cell. */
const pads: string[] = [''];
const pad = (n: number): string => {
  while (pads.length <= n) pads.push(`${pads[pads.length - 1]!} `);
  return pads[n]!;
};

/** Write through the stream in chunks of about this many characters. */
const CHUNK = 1 << 17;

/**
 * The default table, written in chunks: the same layout as renderTable (tabwriter, min width 10,
 * padding 3) but without a cell array or a padded copy of each cell per row, since `images` may
 * print 50k rows. Rows of one image are adjacent, so its ID, CREATED and SIZE cells are made
 * once and each row is its REPOSITORY and TAG (and DIGEST) cells plus the image's shared tail.
 */
export function writeImageTable(
  out: { write(s: string): void },
  rows: ImageRowColumns,
  o: { digests: boolean; id: (d: string) => string; now: number },
): void {
  const { length, repository, tag, digest, image, images } = rows;
  // Header cells count too, and no column is narrower than 10 (DIGEST over `<none>` cells is 10).
  const minWidth = (header: string) => Math.max(10, header.length + 3);
  let wRepo = minWidth('REPOSITORY');
  let wTag = minWidth('TAG');
  let wDigest = minWidth('DIGEST');
  for (let i = 0; i < length; i++) {
    if (repository[i]!.length + 3 > wRepo) wRepo = repository[i]!.length + 3;
    if (tag[i]!.length + 3 > wTag) wTag = tag[i]!.length + 3;
    if (digest[i]!.length + 3 > wDigest) wDigest = digest[i]!.length + 3;
  }
  // [ID, CREATED, SIZE] per image, sizes shared (formatting one costs more than a lookup).
  const cells = new Array<string>(images.length * 3);
  const sizes = new Map<number, string>();
  let wId = minWidth('IMAGE ID');
  let wCreated = minWidth('CREATED');
  for (let k = 0; k < images.length; k++) {
    const img = images[k]!;
    const id = o.id(img.id);
    const created = img.created === undefined ? 'N/A' : `${humanDuration(o.now - img.created)} ago`;
    let size = sizes.get(img.size);
    if (size === undefined) sizes.set(img.size, (size = humanSize(img.size)));
    if (id.length + 3 > wId) wId = id.length + 3;
    if (created.length + 3 > wCreated) wCreated = created.length + 3;
    cells[3 * k] = id;
    cells[3 * k + 1] = created;
    cells[3 * k + 2] = size;
  }
  const cell = (s: string, w: number): string => s + pad(w - s.length);
  let buf = `${cell('REPOSITORY', wRepo)}${cell('TAG', wTag)}${o.digests ? cell('DIGEST', wDigest) : ''}${cell('IMAGE ID', wId)}${cell('CREATED', wCreated)}SIZE\n`;
  let k = -1;
  let tail = '';
  let repo: string | undefined;
  let repoCell = '';
  for (let i = 0; i < length; i++) {
    if (image[i] !== k) {
      k = image[i]!;
      tail = `${cell(cells[3 * k]!, wId)}${cell(cells[3 * k + 1]!, wCreated)}${cells[3 * k + 2]!}\n`;
    }
    if (repository[i] !== repo) {
      repo = repository[i]!;
      repoCell = cell(repo, wRepo);
    }
    const t = tag[i]!;
    buf += repoCell + t + pad(wTag - t.length);
    if (o.digests) buf += digest[i]! + pad(wDigest - digest[i]!.length);
    buf += tail;
    if (buf.length > CHUNK) {
      out.write(buf);
      buf = '';
    }
  }
  out.write(buf);
}
