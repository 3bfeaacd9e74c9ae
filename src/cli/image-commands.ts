import type { Command } from 'commander';
import { LadingError } from '../errors/index.js';
import { parsePlatform, shortId } from '../oci/index.js';
import { parseReference, withDefaultTag, type Reference } from '../reference/index.js';
import { humanDuration, humanSize } from '../util/index.js';
import { imageRows } from '../engine/index.js';
import type { CommandContext } from './context.js';
import { ClientError } from './output.js';
import { ProgressRenderer } from './progress-renderer.js';
import { renderTable } from './table.js';

function parseRefArg(s: string): Reference {
  try {
    return parseReference(s);
  } catch (e) {
    // Docker's CLI prints parser errors bare (behaviour §1.5).
    throw new ClientError('INVALID_ARGUMENT', (e as Error).message);
  }
}

export function registerImageCommands(program: Command, ctx: CommandContext): void {
  const pull = (cmd: Command) =>
    cmd
      .argument('<name>', 'NAME[:TAG|@DIGEST]')
      .option('--platform <platform>', 'os/arch[/variant] to pull from a multi-platform image')
      .option('-q, --quiet', 'print only the image reference')
      .description('Download an image from a registry')
      .action(async (name: string, opts: { platform?: string; quiet?: boolean }) => {
        const ref0 = parseRefArg(name);
        const ref = withDefaultTag(ref0);
        const io = ctx.io;
        if (!ref0.tag && !ref0.digest && !opts.quiet) io.stdout.write('Using default tag: latest\n');
        const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
        const renderer = new ProgressRenderer(io.stdout);
        const result = await ctx.engine.get().pull(ref, {
          ...(platform ? { platform } : {}),
          signal: ctx.signal,
          ...(opts.quiet ? {} : { onProgress: (e) => renderer.handle(e) }),
        });
        io.stdout.write(`${result.reference}\n`);
      });
  pull(program.command('pull'));

  const list = (cmd: Command) =>
    cmd
      .argument('[repository]', 'REPOSITORY[:TAG]')
      .option('-q, --quiet', 'only show image IDs')
      .option('-a, --all', 'show all images (default hides intermediate images)')
      .option('--digests', 'show digests')
      .option('--no-trunc', "don't truncate output")
      .description('List images')
      .action(async (repository: string | undefined, opts: { quiet?: boolean; digests?: boolean; trunc: boolean }) => {
        const engine = ctx.engine.get();
        let images = engine.listImages();
        if (repository) {
          const ref = parseRefArg(repository);
          const { repositoryName } = await import('../reference/index.js');
          const repo = repositoryName(ref);
          images = images
            .map((img) => ({
              ...img,
              tags: img.tags.filter((t) => t.repository === repo && (!ref.tag || t.tag === ref.tag)),
              digests: ref.tag ? [] : img.digests.filter((d) => d.repository === repo),
            }))
            .filter((img) => img.tags.length > 0 || img.digests.length > 0);
        }
        const rows = imageRows(images, { digests: !!opts.digests });
        const id = (d: string) => (opts.trunc ? shortId(d) : d);
        if (opts.quiet) {
          for (const r of rows) ctx.io.stdout.write(`${id(r.id)}\n`);
          return;
        }
        const now = ctx.io.now();
        const header = ['REPOSITORY', 'TAG', ...(opts.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
        const table = [header];
        for (const r of rows) {
          const created = r.created === undefined ? 'N/A' : `${humanDuration(now - r.created)} ago`;
          table.push([r.repository, r.tag, ...(opts.digests ? [r.digest] : []), id(r.id), created, humanSize(r.size)]);
        }
        ctx.io.stdout.write(renderTable(table));
      });
  list(program.command('images'));

  const inspect = (cmd: Command) =>
    cmd
      .argument('<image...>', 'IMAGE')
      .description('Display detailed information on one or more images')
      .action(async (names: string[]) => {
        const engine = ctx.engine.get();
        const found: unknown[] = [];
        let failure: unknown;
        for (const n of names) {
          try {
            found.push(engine.inspectImage(n));
          } catch (e) {
            if (!(e instanceof LadingError) || e.code !== 'NOT_FOUND') throw e;
            failure = e;
          }
        }
        ctx.io.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
        if (failure) throw failure;
      });
  inspect(program.command('inspect'));

  const image = program.command('image').description('Manage images');
  pull(image.command('pull'));
  list(image.command('ls').alias('list'));
  inspect(image.command('inspect'));
}
