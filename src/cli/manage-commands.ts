import type { Command } from 'commander';
import { shortId } from '../oci/index.js';
import { parseTagTarget } from '../reference/index.js';
import { humanDuration, humanSize, parseByteSize, parseGoDuration } from '../util/index.js';
import type { CommandContext } from './context.js';
import { GO_ZERO_TIME, goLocalTime, parseFilterFlags, parseFormat, renderTemplate, rfc3339Local } from './format.js';
import { TemplateContext, type GoTemplate } from './go-template.js';
import { collectValues } from './images-list.js';
import { ClientError, reportError } from './output.js';
import { renderTable } from './table.js';

type Event = { untagged: string } | { deleted: string };

const DF_HEADERS: Record<string, string> = { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' };

/** Docker's default `system df` tables, as templates over the same contexts --format sees. */
const DF_TYPES_TABLE = 'table {{.Type}}\\t{{.TotalCount}}\\t{{.Active}}\\t{{.Size}}\\t{{.Reclaimable}}';
const DF_IMAGES_TABLE =
  'table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}\\t{{.SharedSize}}\\t{{.UniqueSize}}\\t{{.Containers}}';

const DF_IMAGE_HEADERS: Record<string, string> = {
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  ID: 'IMAGE ID',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  VirtualSize: 'SIZE',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  Containers: 'CONTAINERS',
};

const exactBytes = (n: number) => `${humanSize(n, 4)} (${n} bytes)`;

/** One line from stdin (the prune prompt's answer); '' at EOF. */
function readLine(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return Promise.resolve('');
  return new Promise((resolve) => {
    let buf = '';
    const done = () => {
      stream.off('data', onData);
      stream.off('end', done);
      stream.off('error', done);
      stream.pause?.();
      resolve(buf.split('\n')[0] ?? '');
    };
    const onData = (c: Buffer | string) => {
      buf += c.toString();
      if (buf.includes('\n')) done();
    };
    stream.on('data', onData);
    stream.once('end', done);
    stream.once('error', done);
    stream.resume?.();
  });
}

function parseDurationFlag(v: string): number {
  const ms = parseGoDuration(v);
  if (ms === undefined || ms < 0) {
    throw new ClientError('INVALID_ARGUMENT', `invalid argument "${v}" for "--unused-for" flag: time: invalid duration "${v}"`, { detail: { exitCode: 125 } });
  }
  return ms;
}

function parseSizeFlag(v: string): number {
  try {
    return parseByteSize(v);
  } catch {
    throw new ClientError('INVALID_ARGUMENT', `invalid argument "${v}" for "--keep-storage" flag: invalid size: '${v}'`, { detail: { exitCode: 125 } });
  }
}

const HISTORY_HEADERS: Record<string, string> = {
  ID: 'IMAGE',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  CreatedBy: 'CREATED BY',
  Size: 'SIZE',
  Comment: 'COMMENT',
};

/** Docker's Ellipsis: at most `n` characters, the last one `…` when cut. */
function ellipsis(s: string, n: number): string {
  const cps = Array.from(s);
  return cps.length <= n ? s : `${cps.slice(0, n - 1).join('')}…`;
}

export function registerManageCommands(program: Command, ctx: CommandContext): void {
  const io = ctx.io;
  const out = (s: string) => io.stdout.write(s);

  const tag = (cmd: Command) =>
    cmd
      .argument('<source>', 'SOURCE_IMAGE[:TAG]')
      .argument('<target>', 'TARGET_IMAGE[:TAG]')
      .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
      .action((source: string, target: string) => {
        try {
          parseTagTarget(target);
        } catch (e) {
          throw new ClientError('INVALID_ARGUMENT', `Error parsing reference: "${target}" is not a valid repository/tag: ${(e as Error).message}`);
        }
        ctx.engine.get().tag(source, target);
      });

  const rmi = (cmd: Command) =>
    cmd
      .argument('<image...>', 'IMAGE')
      .option('-f, --force', 'force removal of the image')
      .option('--no-prune', 'do not delete untagged parents')
      .option('--dry-run', 'print what would be removed and how many bytes that frees, remove nothing')
      .description('Remove one or more images')
      .action(async (names: string[], opts: { force?: boolean; prune: boolean; dryRun?: boolean }) => {
        const r = await ctx.engine.get().removeImages(names, { force: opts.force === true, noPrune: !opts.prune, dryRun: opts.dryRun === true });
        let failed = false;
        const debug = !!program.opts<{ debug?: boolean }>().debug;
        for (const res of r.results) {
          for (const e of res.events) {
            if (opts.dryRun) out('untagged' in e ? `Would untag: ${e.untagged}\n` : `Would delete: ${e.deleted}\n`);
            else out('untagged' in e ? `Untagged: ${e.untagged}\n` : `Deleted: ${e.deleted}\n`);
          }
          if (res.error) {
            reportError(io, res.error, debug);
            // With -f, a missing image is reported but does not fail the command (Docker).
            if (!(opts.force && res.error.code === 'NOT_FOUND')) failed = true;
          }
        }
        if (opts.dryRun) out(`Would reclaim: ${exactBytes(r.bytes)}\n`);
        if (failed) ctx.exitCode = 1;
      });

  const prune = (cmd: Command) =>
    cmd
      .option('-a, --all', 'remove all unused images, not just dangling ones')
      .option('--filter <filter>', "provide filter values (e.g. 'until=<timestamp>')", collectValues)
      .option('-f, --force', 'do not prompt for confirmation')
      .option('--unused-for <duration>', 'only images not pulled, tagged, inspected, pushed or run for this long (e.g. 720h, 30d)')
      .option('--keep-storage <size>', 'remove least recently used images until the store holds at most this much (e.g. 10GB)')
      .option('--dry-run', 'print what would be removed and how many bytes that frees, remove nothing')
      .description('Remove unused images')
      .action(async (opts: { all?: boolean; filter?: string[]; force?: boolean; unusedFor?: string; keepStorage?: string; dryRun?: boolean }) => {
        const filters = parseFilterFlags(opts.filter);
        const unusedForMs = opts.unusedFor !== undefined ? parseDurationFlag(opts.unusedFor) : undefined;
        const keepStorageBytes = opts.keepStorage !== undefined ? parseSizeFlag(opts.keepStorage) : undefined;
        if (!opts.force && !opts.dryRun) {
          out(
            opts.all
              ? 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] '
              : 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ',
          );
          const answer = (await readLine(io.stdin)).trim();
          if (answer !== 'y' && answer !== 'Y') return;
        }
        const r = await ctx.engine.get().pruneImages({
          all: opts.all === true,
          filters,
          ...(unusedForMs !== undefined ? { unusedForMs } : {}),
          ...(keepStorageBytes !== undefined ? { keepStorageBytes } : {}),
          dryRun: opts.dryRun === true,
        });
        const lines = (r.events as Event[]).map((e) => ('untagged' in e ? `untagged: ${e.untagged}\n` : `deleted: ${e.deleted}\n`));
        if (opts.dryRun) {
          if (lines.length) out(`Would delete images:\n${lines.join('')}\n`);
          out(`Would reclaim: ${exactBytes(r.bytes)}\n`);
          return;
        }
        if (lines.length) out(`Deleted Images:\n${lines.join('')}\n`);
        out(`Total reclaimed space: ${humanSize(r.bytes, 4)}\n`);
      });

  const history = (cmd: Command) =>
    cmd
      .argument('<image>', 'IMAGE')
      .option('-H, --human <bool>', 'print sizes and dates in human readable format', (v: string) => !/^=?(false|0|f)$/i.test(v), true)
      .option('--no-trunc', "don't truncate output")
      .option('-q, --quiet', 'only show image IDs')
      .option('--format <format>', "format output: 'table', 'table TEMPLATE', 'json' or a Go template")
      .description('Show the history of an image')
      .action((name: string, opts: { human: boolean; trunc: boolean; quiet?: boolean; format?: string }) => {
        const items = ctx.engine.get().history(name);
        const now = io.now();
        const id = (v: string) => (v === '<missing>' || !opts.trunc ? v : shortId(v));
        const format = parseFormat(opts.format);
        if (opts.quiet && !format.template) {
          out(items.map((h) => `${id(h.id)}\n`).join(''));
          return;
        }
        const contexts = items.map(
          (h) =>
            new TemplateContext('*formatter.historyContext', {
              ID: () => id(h.id),
              CreatedSince: () => (h.created === undefined ? 'N/A' : opts.human ? `${humanDuration(now - h.created)} ago` : rfc3339Local(h.created)),
              CreatedAt: () => (h.created === undefined ? '' : rfc3339Local(h.created)),
              CreatedBy: () => {
                const s = h.createdBy.replace(/\t/g, ' ');
                return opts.trunc ? ellipsis(s, 45) : s;
              },
              Size: () => (opts.human ? humanSize(h.size) : String(h.size)),
              Comment: h.comment,
            }),
        );
        if (format.template) {
          out(renderTemplate(format as typeof format & { template: GoTemplate }, contexts, HISTORY_HEADERS, '*formatter.historyContext'));
          return;
        }
        const table = [['IMAGE', opts.human ? 'CREATED' : 'CREATED AT', 'CREATED BY', 'SIZE', 'COMMENT']];
        for (const c of contexts) table.push(['ID', 'CreatedSince', 'CreatedBy', 'Size', 'Comment'].map((k) => String(c.get(k))));
        out(renderTable(table));
      });

  const df = (cmd: Command) =>
    cmd
      .option('-v, --verbose', 'show detailed information on space usage')
      .option('--format <format>', "format output: 'table', 'table TEMPLATE', 'json' or a Go template")
      .description('Show disk usage')
      .action((opts: { verbose?: boolean; format?: string }) => {
        const u = ctx.engine.get().diskUsage();
        const now = io.now();
        if (opts.verbose) {
          // Docker's verbose default: its image table under a heading.
          const format = parseFormat(opts.format ?? DF_IMAGES_TABLE);
          const imageContexts = u.images.map(
            (i) =>
              new TemplateContext('*formatter.imageContext', {
                Containers: String(i.containers),
                CreatedAt: () => (i.created === undefined ? GO_ZERO_TIME : goLocalTime(i.created)),
                CreatedSince: () => (i.created === undefined ? 'N/A' : `${humanDuration(now - i.created)} ago`),
                Digest: '<none>',
                ID: shortId(i.id),
                Repository: i.repository,
                SharedSize: () => humanSize(i.sharedSize),
                Size: () => humanSize(i.size),
                Tag: i.tag,
                UniqueSize: () => humanSize(i.uniqueSize),
                VirtualSize: () => humanSize(i.size),
              }),
          );
          if (format.kind === 'table') {
            out(`Images space usage:\n\n${renderTemplate(format as typeof format & { template: GoTemplate }, imageContexts, DF_IMAGE_HEADERS, '*formatter.imageContext')}`);
            return;
          }
          // Docker runs a non-table template once over the whole report: {{json .}} is one
          // document, {{range .Images}} walks the images.
          const report = new TemplateContext('*formatter.diskUsageContext', { Images: imageContexts, Containers: [], Volumes: [], BuildCache: [] });
          out(`${format.template!.execute(report)}\n`);
          return;
        }
        const pct = u.totalBytes > 0 ? ` (${Math.floor((u.reclaimableBytes * 100) / u.totalBytes)}%)` : '';
        // lading has no containers, volumes or build cache yet: those rows are truthfully empty.
        const types = [
          ['Images', String(u.images.length), String(u.active), humanSize(u.totalBytes, 4), `${humanSize(u.reclaimableBytes, 4)}${pct}`],
          ['Containers', '0', '0', '0B', '0B'],
          ['Local Volumes', '0', '0', '0B', '0B'],
          ['Build Cache', '0', '0', '0B', '0B'],
        ].map(
          ([Type, TotalCount, Active, Size, Reclaimable]) =>
            new TemplateContext('*formatter.diskUsageContext', { Type, TotalCount, Active, Size, Reclaimable }),
        );
        const format = parseFormat(opts.format ?? DF_TYPES_TABLE);
        out(renderTemplate(format as typeof format & { template: GoTemplate }, types, DF_HEADERS, '*formatter.diskUsageContext'));
      });

  const check = (cmd: Command) =>
    cmd
      .option('--repair', 'fix what is found: delete corrupt and unreferenced files, remove images left incomplete')
      .description('Verify every blob digest and every layer snapshot of the local store')
      .action(async (opts: { repair?: boolean }) => {
        const r = await ctx.engine.get().checkStore({ repair: opts.repair === true, signal: ctx.signal });
        for (const p of r.problems) {
          const users = p.images.length ? ` (needed by ${p.images.map(shortId).join(', ')})` : '';
          out(`${p.message}${users}\n`);
        }
        for (const line of r.repairs) out(`repaired: ${line}\n`);
        const n = r.problems.length;
        if (n === 0) {
          out('no problems found\n');
        } else if (opts.repair) {
          out(`${n} problem${n === 1 ? '' : 's'} found and repaired\n`);
        } else {
          out(`${n} problem${n === 1 ? '' : 's'} found; run 'lading system check --repair' to fix\n`);
          ctx.exitCode = 1;
        }
      });

  tag(program.command('tag'));
  rmi(program.command('rmi'));
  history(program.command('history'));

  const image = program.commands.find((c) => c.name() === 'image') ?? program.command('image').description('Manage images');
  tag(image.command('tag'));
  rmi(image.command('rm').aliases(['rmi', 'remove']));
  prune(image.command('prune'));
  history(image.command('history'));

  const system = program.command('system').description('Manage lading');
  df(system.command('df'));
  check(system.command('check'));
}

