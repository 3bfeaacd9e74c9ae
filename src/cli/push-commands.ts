import type { Command } from 'commander';
import { parseReference, type Reference } from '../reference/index.js';
import type { CommandContext } from './context.js';
import { ClientError } from './output.js';
import { ProgressRenderer } from './progress-renderer.js';

function parseRefArg(s: string): Reference {
  try {
    return parseReference(s);
  } catch (e) {
    throw new ClientError('INVALID_ARGUMENT', (e as Error).message);
  }
}

/** `lading push` / `lading image push`. */
export function registerPushCommands(program: Command, ctx: CommandContext): void {
  const push = (cmd: Command) =>
    cmd
      .argument('<name>', 'NAME[:TAG]')
      .option('-a, --all-tags', 'push all tags of the repository')
      .option('-q, --quiet', 'suppress verbose output')
      .description('Upload an image to a registry')
      .action(async (name: string, opts: { allTags?: boolean; quiet?: boolean }) => {
        const ref = parseRefArg(name);
        const io = ctx.io;
        if (opts.allTags && ref.tag) throw new ClientError('INVALID_ARGUMENT', "tag can't be used with --all-tags/-a");
        if (ref.digest) throw new ClientError('INVALID_ARGUMENT', 'cannot push a digest reference');
        if (!opts.allTags && !ref.tag && !opts.quiet) io.stdout.write('Using default tag: latest\n');
        const renderer = new ProgressRenderer(io.stdout);
        await ctx.engine.get().push(opts.allTags || ref.tag ? ref : { ...ref, tag: 'latest' }, {
          ...(opts.allTags ? { allTags: true } : {}),
          signal: ctx.signal,
          ...(opts.quiet ? {} : { onProgress: (e) => renderer.handle(e) }),
        });
        if (opts.quiet) io.stdout.write(`${name}\n`);
      });
  push(program.command('push'));
  const image = program.commands.find((c) => c.name() === 'image');
  if (image) push(image.command('push'));
}
