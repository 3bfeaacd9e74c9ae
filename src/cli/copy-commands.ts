import type { Command } from 'commander';
import { parsePlatform } from '../oci/index.js';
import type { CommandContext } from './context.js';
import { ClientError } from './output.js';

/** `lading image copy SRC DST`. */
export function registerCopyCommands(program: Command, ctx: CommandContext): void {
  const image = program.commands.find((c) => c.name() === 'image');
  if (!image) return;
  image
    .command('copy')
    .argument('<source>', 'REF | docker://REF | local:NAME | oci:DIR[:TAG] | docker-archive:FILE')
    .argument('<destination>', 'REF | docker://REF | local:NAME | oci:DIR[:TAG] | docker-archive:FILE')
    .option('--platform <platform>', 'platform to copy from a multi-platform source')
    .description('Copy an image between registries, the local store, OCI layouts and docker-archives')
    .action(async (src: string, dst: string, opts: { platform?: string }) => {
      const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
      let digest: string;
      try {
        digest = await ctx.engine.get().copy(src, dst, { ...(platform ? { platform } : {}), signal: ctx.signal });
      } catch (e) {
        if ((e as { code?: string }).code === 'INVALID_ARGUMENT' && /reference format/.test((e as Error).message)) throw new ClientError('INVALID_ARGUMENT', (e as Error).message);
        throw e;
      }
      ctx.io.stdout.write(`${digest}\n`);
    });
}
