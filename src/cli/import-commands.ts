import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { parseReference, type Reference } from '../reference/index.js';
import type { CommandContext } from './context.js';
import { ClientError } from './output.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `lading import` / `lading image import`. */
export function registerImportCommands(program: Command, ctx: CommandContext): void {
  const imp = (cmd: Command) =>
    cmd
      .argument('<source>', 'FILE|URL|-')
      .argument('[repository]', 'REPOSITORY[:TAG]')
      .option('-c, --change <instruction>', 'apply a Dockerfile instruction to the created image (repeatable)', collect)
      .option('-m, --message <message>', 'set a commit message for the imported image')
      .option('--platform <platform>', 'accepted for compatibility; the image gets this machine\'s platform, as Docker 20.10 does')
      .description('Import the contents from a tarball to create a filesystem image')
      .action(async (source: string, repository: string | undefined, opts: { change?: string[]; message?: string }) => {
        let reference: Reference | undefined;
        if (repository) {
          try {
            reference = parseReference(repository);
          } catch (e) {
            throw new ClientError('INVALID_ARGUMENT', (e as Error).message);
          }
          if (reference.digest) throw new ClientError('INVALID_ARGUMENT', 'refusing to create a tag with a digest reference');
        }
        const id = await ctx.engine.get().importImage(source, {
          ...(opts.change ? { changes: opts.change } : {}),
          ...(opts.message !== undefined ? { message: opts.message } : {}),
          ...(reference ? { reference } : {}),
          stdin: (ctx.io.stdin as Readable | undefined) ?? process.stdin,
          signal: ctx.signal,
        });
        ctx.io.stdout.write(`${id}\n`);
      });
  imp(program.command('import'));
  const image = program.commands.find((c) => c.name() === 'image');
  if (image) imp(image.command('import'));
}
