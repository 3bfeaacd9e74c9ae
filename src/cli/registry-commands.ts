import type { Command } from 'commander';
import { once } from 'node:events';
import { join } from 'node:path';
import { defaultRoot } from '../engine/index.js';
import type { RegistryConfig, RegistryConfigInput } from '../registry/index.js';
import { humanSize, readLimited } from '../util/index.js';
import type { CommandContext } from './context.js';
import { ClientError } from './output.js';

interface ServeFlags {
  root?: string;
  config?: string;
  addr?: string;
  readOnly?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  htpasswd?: string;
  anonymousRead?: boolean;
  admin?: string[];
  token?: boolean;
  tokenRealm?: string;
  tokenService?: string;
  tokenIssuer?: string;
  tokenPublicKey?: string;
  tokenSigningKey?: string;
  gcInterval?: string;
  gcGracePeriod?: string;
  logLevel?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The registry (and pino, bcrypt, jose under it) loads only when a registry command runs. */
const loadRegistry = () => import('../registry/index.js');

/**
 * The command's own `--root` and `--config` name the registry's storage and config file; the
 * default storage is `registry/` under lading's root (the global `--root`, then LADING_ROOT).
 */
async function registryConfig(program: Command, ctx: CommandContext, flags: ServeFlags): Promise<RegistryConfig> {
  const { readRegistryConfigFile, resolveRegistryConfig } = await loadRegistry();
  const g = program.opts<{ root?: string }>();
  const file = flags.config ? readRegistryConfigFile(flags.config) : undefined;
  const auth: NonNullable<RegistryConfigInput['auth']> = {};
  if (flags.htpasswd) auth.htpasswd = flags.htpasswd;
  if (flags.anonymousRead) auth.anonymousRead = true;
  if (flags.admin?.length) auth.admins = flags.admin;
  const token = {
    ...(flags.tokenRealm ? { realm: flags.tokenRealm } : {}),
    ...(flags.tokenService ? { service: flags.tokenService } : {}),
    ...(flags.tokenIssuer ? { issuer: flags.tokenIssuer } : {}),
    ...(flags.tokenPublicKey ? { publicKey: flags.tokenPublicKey } : {}),
    ...(flags.tokenSigningKey ? { signingKey: flags.tokenSigningKey } : {}),
  };
  if (flags.token || Object.keys(token).length) auth.token = { ...(typeof file?.auth?.token === 'object' ? file.auth.token : {}), ...token };
  const input: RegistryConfigInput = {
    ...(flags.addr ? { addr: flags.addr } : {}),
    ...(flags.root ? { root: flags.root } : {}),
    ...(flags.readOnly ? { readOnly: true } : {}),
    ...(flags.tlsCert || flags.tlsKey ? { tls: { ...(flags.tlsCert ? { cert: flags.tlsCert } : {}), ...(flags.tlsKey ? { key: flags.tlsKey } : {}) } } : {}),
    ...(Object.keys(auth).length ? { auth: { ...(file?.auth ?? {}), ...auth } } : {}),
    ...(flags.gcInterval || flags.gcGracePeriod ? { gc: { ...(flags.gcInterval ? { interval: flags.gcInterval } : {}), ...(flags.gcGracePeriod ? { gracePeriod: flags.gcGracePeriod } : {}) } } : {}),
    ...(flags.logLevel ? { log: { level: flags.logLevel } } : {}),
  };
  return resolveRegistryConfig({ ...(file ? { file } : {}), flags: input, defaultRoot: join(g.root || ctx.io.env.LADING_ROOT || defaultRoot(ctx.io.env), 'registry') });
}

export function registerRegistryCommands(program: Command, ctx: CommandContext): void {
  const registry = program.command('registry').description('Run an OCI distribution registry');

  registry
    .command('serve')
    .description('Serve an OCI distribution-spec registry (stops gracefully on SIGINT/SIGTERM)')
    .option('--addr <host:port>', 'address to listen on', '127.0.0.1:5000')
    .option('--root <dir>', 'storage directory (default: <lading root>/registry)')
    .option('--config <file>', 'registry config file (JSON)')
    .option('--read-only', 'refuse pushes and deletions')
    .option('--tls-cert <file>', 'TLS certificate (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--htpasswd <file>', 'bcrypt htpasswd file: Basic auth (or the users of --token)')
    .option('--anonymous-read', 'let anonymous users pull')
    .option('--admin <user>', 'user with every right, repository deletion included (repeatable)', collect)
    .option('--token', 'bearer-token auth with the built-in token endpoint (/token)')
    .option('--token-realm <url>', 'token endpoint URL announced to clients (an external issuer)')
    .option('--token-service <name>', 'token service (audience)')
    .option('--token-issuer <name>', 'token issuer')
    .option('--token-public-key <file>', "verify an external issuer's tokens with this PEM key or certificate")
    .option('--token-signing-key <file>', 'PEM private key for the built-in issuer (default: generated)')
    .option('--gc-interval <duration>', 'run the online collector every interval (e.g. 1h)')
    .option('--gc-grace-period <duration>', 'keep unreferenced blobs younger than this (default 1h)')
    .option('--log-level <level>', 'request log level (info, warn, error, silent...)')
    .action(async (flags: ServeFlags) => {
      const config = await registryConfig(program, ctx, flags);
      const { createLogger, startRegistryServer } = await loadRegistry();
      const logger = createLogger({ level: config.log.level, destination: { write: (s: string) => (ctx.io.stdout.write(s), true) } as unknown as NodeJS.WritableStream });
      const server = await startRegistryServer({ config, logger });
      logger.info({ url: server.url, root: config.root, auth: config.auth.token ? 'token' : config.auth.htpasswd ? 'htpasswd' : 'none', readOnly: config.readOnly }, 'registry listening');
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      try {
        await Promise.race([once(stop.signal, 'abort'), once(ctx.signal, 'abort')]);
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
      logger.info({ inFlight: server.http.inFlight() }, 'registry shutting down');
      await server.close({ graceMs: 10_000 });
    });

  registry
    .command('gc')
    .description('Remove blobs no manifest references (safe while a server runs on the same root)')
    .option('--root <dir>', 'storage directory (default: <lading root>/registry)')
    .option('--config <file>', 'registry config file (JSON)')
    .option('--dry-run', 'only list what would be removed')
    .option('--grace-period <duration>', 'keep unreferenced blobs younger than this (default 1h)')
    .action(async (opts: { dryRun?: boolean; gracePeriod?: string; root?: string; config?: string }) => {
      const { FsRegistryStorage, collectGarbage } = await loadRegistry();
      const config = await registryConfig(program, ctx, {
        ...(opts.root ? { root: opts.root } : {}),
        ...(opts.config ? { config: opts.config } : {}),
        ...(opts.gracePeriod ? { gcGracePeriod: opts.gracePeriod } : {}),
      });
      const storage = new FsRegistryStorage(config.root);
      const report = await collectGarbage(storage, { dryRun: !!opts.dryRun, gracePeriodMs: config.gc.gracePeriodMs, uploadTtlMs: config.gc.uploadTtlMs, signal: ctx.signal });
      const out = ctx.io.stdout;
      out.write(`${report.repositories} repositories, ${report.manifests} manifests, ${report.marked} blobs referenced\n`);
      for (const b of report.deleted) out.write(`${report.dryRun ? 'would delete' : 'deleted'} ${b.digest} (${humanSize(b.size)})\n`);
      const verb = report.dryRun ? 'would be deleted' : 'deleted';
      out.write(`${report.deleted.length} blobs ${verb}, ${humanSize(report.deletedBytes)}; ${report.kept} unreferenced blobs kept (grace period); ${report.uploadsRemoved} abandoned uploads ${report.dryRun ? 'would be removed' : 'removed'}\n`);
    });

  registry
    .command('htpasswd')
    .description('Print a bcrypt htpasswd line for a user (password from stdin)')
    .argument('<user>', 'user name')
    .action(async (user: string) => {
      const pw = (await readLimited((ctx.io.stdin ?? process.stdin) as AsyncIterable<Uint8Array>, 4096, 'password')).toString('utf8').replace(/\r?\n$/, '');
      if (!pw) throw new ClientError('INVALID_ARGUMENT', 'Error: Non-null Password Required');
      const { Htpasswd } = await loadRegistry();
      ctx.io.stdout.write(`${Htpasswd.entry(user, pw)}\n`);
    });
}
