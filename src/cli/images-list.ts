import type { Command } from 'commander';
import { shortId } from '../oci/index.js';
import { humanDuration, humanSize } from '../util/index.js';
import { imageRows, type ImageRow } from '../engine/index.js';
import type { CommandContext } from './context.js';
import { goLocalTime, parseFilterFlags, parseFormat, renderTemplate } from './format.js';
import { GoTemplate, TemplateContext } from './go-template.js';
import { renderTable } from './table.js';

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
      const header = ['REPOSITORY', 'TAG', ...(digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
      const table = [header];
      for (const r of rows) {
        const created = r.created === undefined ? 'N/A' : `${humanDuration(now - r.created)} ago`;
        table.push([r.repository, r.tag, ...(digests ? [r.digest] : []), id(r.id), created, humanSize(r.size)]);
      }
      ctx.io.stdout.write(renderTable(table));
    });
}
