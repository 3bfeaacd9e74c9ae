import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { parsePlatform } from '../oci/index.js';
import type { CommandContext } from './context.js';
import { ClientError, type Io } from './output.js';
import { ProgressRenderer } from './progress-renderer.js';

/** stdout as a Writable: the process stream itself, or a wrapper over an injected writer. */
function stdoutStream(io: Io): Writable {
  const s = io.stdout as unknown;
  if (s instanceof Writable) return s;
  return new Writable({
    write(chunk: Buffer, _e, cb) {
      io.stdout.write(chunk.toString('latin1'));
      cb();
    },
  });
}

/** Go's os.Open wording, which Docker's CLI prints bare. */
async function openInput(path: string): Promise<Readable> {
  try {
    const fh = await open(path, 'r');
    await fh.close();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    throw new ClientError('INVALID_ARGUMENT', `open ${path}: ${why}`);
  }
  return createReadStream(path, { highWaterMark: 1024 * 1024 });
}

export function registerArchiveCommands(program: Command, ctx: CommandContext): void {
  const save = (cmd: Command) =>
    cmd
      .argument('<image...>', 'IMAGE')
      .option('-o, --output <file>', 'write to a file, instead of STDOUT')
      .option('--platform <platform>', 'save only this platform')
      .option('--have <file>', 'digests the receiving store holds (its `lading inventory`): leave them out')
      .description('Save one or more images to a tar archive (docker-archive and OCI layout)')
      .action(async (names: string[], opts: { output?: string; platform?: string; have?: string }) => {
        const io = ctx.io;
        if (!opts.output && io.stdout.isTTY) throw new ClientError('INVALID_ARGUMENT', 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
        const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
        let have: string[] | undefined;
        if (opts.have) {
          const text = await readFile(opts.have, 'utf8').catch((e: NodeJS.ErrnoException) => {
            throw new ClientError('INVALID_ARGUMENT', `open ${opts.have}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
          });
          have = text.split(/\s+/).filter((l) => /^[a-z0-9]+:[0-9a-f]+$/.test(l));
        }
        const engine = ctx.engine.get();
        const o = { ...(platform ? { platform } : {}), ...(have ? { have } : {}), signal: ctx.signal };
        if (!opts.output) {
          await engine.save(names, stdoutStream(io), o);
          return;
        }
        // Written beside the target and renamed: a failed save never leaves half an archive.
        const tmp = join(dirname(opts.output), `.${basename(opts.output)}.${randomBytes(4).toString('hex')}.tmp`);
        try {
          await engine.save(names, createWriteStream(tmp, { mode: 0o644 }), o);
          await rename(tmp, opts.output);
        } catch (e) {
          await unlink(tmp).catch(() => {});
          throw e;
        }
      });
  save(program.command('save'));

  const load = (cmd: Command) =>
    cmd
      .option('-i, --input <file>', 'read from a tar archive file, instead of STDIN')
      .option('-q, --quiet', 'suppress the load output')
      .option('--platform <platform>', 'platform to load from a multi-platform OCI layout')
      .description('Load images from a tar archive or STDIN (docker-archive or OCI layout; plain, gzip or zstd)')
      .action(async (opts: { input?: string; quiet?: boolean; platform?: string }) => {
        const io = ctx.io;
        const input = opts.input ? await openInput(opts.input) : ((io.stdin as Readable | undefined) ?? process.stdin);
        const renderer = new ProgressRenderer(io.stdout);
        const platform = opts.platform ? parsePlatform(opts.platform) : undefined;
        await ctx.engine.get().load(input, {
          ...(platform ? { platform } : {}),
          signal: ctx.signal,
          // Docker's CLI is quiet about layers off a terminal, but always names what it loaded.
          onProgress: (e) => {
            if (e.kind === 'message') renderer.handle(e);
            else if (!opts.quiet) renderer.handle(e);
          },
        });
      });
  load(program.command('load'));

  program
    .command('inventory')
    .description('Print the digest of every blob in the store (for `save --have` elsewhere)')
    .action(async () => {
      for (const d of await ctx.engine.get().inventory()) ctx.io.stdout.write(`${d}\n`);
    });

  const image = program.commands.find((c) => c.name() === 'image');
  if (image) {
    save(image.command('save'));
    load(image.command('load'));
  }
}
