import type { Command } from 'commander';
import { shortId } from '../oci/index.js';
import { humanDuration, humanSize } from '../util/index.js';
import { imageRows, type ImageRow } from '../engine/index.js';
import type { CommandContext } from './context.js';
import { goLocalTime, parseFilterFlags, parseFormat, renderTemplate } from './format.js';
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

/** Go's zero time, what Docker shows for an image without `created`. */
const ZERO_TIME = '0001-01-01 00:00:00 +0000 UTC';

/** Docker's imageContext: every field a string, computed on demand. */
function imageContext(r: ImageRow, o: { trunc: boolean; now: number }): TemplateContext {
  return new TemplateContext('*formatter.imageContext', {
    ID: () => (o.trunc ? shortId(r.id) : r.id),
    Repository: r.repository,
    Tag: r.tag,
    Digest: r.digest,
    CreatedSince: () => (r.created === undefined ? '' : `${humanDuration(o.now - r.created)} ago`),
    CreatedAt: () => (r.created === undefined ? ZERO_TIME : goLocalTime(r.created)),
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
      const images = ctx.engine.get().listImages({ all: opts.all === true, filters });
      const digests = opts.digests === true || format.template?.mentions('Digest') === true;
      const rows = imageRows(images, { digests });
      const now = ctx.io.now();
      const id = (d: string) => (opts.trunc ? shortId(d) : d);

      if (format.template) {
        let f = format;
        if (f.kind === 'table' && opts.digests && !f.template!.mentions('Digest')) {
          f = { kind: 'table', template: new GoTemplate(`${f.template!.source}\t{{.Digest}}`) };
        }
        const contexts = rows.map((r) => imageContext(r, { trunc: opts.trunc, now }));
        ctx.io.stdout.write(renderTemplate(f as typeof f & { template: GoTemplate }, contexts, IMAGE_HEADERS, '*formatter.imageContext'));
        return;
      }
      if (opts.quiet) {
        ctx.io.stdout.write(rows.map((r) => `${id(r.id)}\n`).join(''));
        return;
      }
      writeImageTable(ctx.io.stdout, rows, { digests, id, now });
    });
}

/**
 * The default table, written in chunks: the same layout as renderTable (tabwriter, min width 10,
 * padding 3) but without a cell array per row, since `images` may print 50k rows.
 */
function writeImageTable(
  out: { write(s: string): void },
  rows: ImageRow[],
  o: { digests: boolean; id: (d: string) => string; now: number },
): void {
  // Rows of one image share ID, CREATED and SIZE: compute them once per image.
  const perImage = new Map<string, [string, string, string]>();
  const cellsOf = (r: ImageRow): [string, string, string] => {
    let c = perImage.get(r.id);
    if (c === undefined) {
      c = [o.id(r.id), r.created === undefined ? 'N/A' : `${humanDuration(o.now - r.created)} ago`, humanSize(r.size)];
      perImage.set(r.id, c);
    }
    return c;
  };
  const w = { repo: 'REPOSITORY'.length + 3, tag: 10, digest: 'DIGEST'.length + 3, id: 'IMAGE ID'.length + 3, created: 'CREATED'.length + 3 };
  for (const r of rows) {
    const c = cellsOf(r);
    if (r.repository.length + 3 > w.repo) w.repo = r.repository.length + 3;
    if (r.tag.length + 3 > w.tag) w.tag = r.tag.length + 3;
    if (r.digest.length + 3 > w.digest) w.digest = r.digest.length + 3;
    if (c[0].length + 3 > w.id) w.id = c[0].length + 3;
    if (c[1].length + 3 > w.created) w.created = c[1].length + 3;
  }
  const line = (repo: string, tag: string, digest: string, id: string, created: string, size: string) =>
    `${repo.padEnd(w.repo)}${tag.padEnd(w.tag)}${o.digests ? digest.padEnd(w.digest) : ''}${id.padEnd(w.id)}${created.padEnd(w.created)}${size}\n`;
  let buf = line('REPOSITORY', 'TAG', 'DIGEST', 'IMAGE ID', 'CREATED', 'SIZE');
  for (const r of rows) {
    const c = cellsOf(r);
    buf += line(r.repository, r.tag, r.digest, c[0], c[1], c[2]);
    if (buf.length > 1 << 16) {
      out.write(buf);
      buf = '';
    }
  }
  out.write(buf);
}
