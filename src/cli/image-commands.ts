import type { Command } from 'commander';
import { LadingError } from '../errors/index.js';
import { parsePlatform } from '../oci/index.js';
import { parseReference, withDefaultTag, type Reference } from '../reference/index.js';
import type { CommandContext } from './context.js';
import { ClientError } from './output.js';
import { ProgressRenderer } from './progress-renderer.js';
import { registerImagesList } from './images-list.js';
import { parseFormat } from './format.js';

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

  const list = (cmd: Command) => registerImagesList(cmd, ctx);
  list(program.command('images'));

  const inspect = (cmd: Command) =>
    cmd
      .argument('<image...>', 'IMAGE')
      .option('-f, --format <format>', 'format the output using the given Go template')
      .description('Display detailed information on one or more images')
      .action(async (names: string[], opts: { format?: string }) => {
        const engine = ctx.engine.get();
        const template = opts.format !== undefined && opts.format !== '' ? parseFormat(opts.format).template : undefined;
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
        if (template) ctx.io.stdout.write(found.map((v) => `${template.execute(v)}\n`).join(''));
        else ctx.io.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
        if (failure) throw failure;
      });
  inspect(program.command('inspect'));

  const image = program.command('image').description('Manage images');
  pull(image.command('pull'));
  list(image.command('ls').alias('list'));
  inspect(image.command('inspect'));
}
