import { Command, CommanderError, Option } from 'commander';
import { createEngine, resolveConfig, type Engine } from '../engine/index.js';
import { ClientError, processIo, reportError, type Io } from './output.js';
import { systemClock } from '../util/index.js';
import { registerImageCommands } from './image-commands.js';
import { registerAuthCommands } from './auth-commands.js';
import { registerManageCommands } from './manage-commands.js';
import type { CommandContext } from './context.js';
import { registerRegistryCommands } from './registry-commands.js';
import { registerPushCommands } from './push-commands.js';
import { registerArchiveCommands } from './archive-commands.js';
import { registerImportCommands } from './import-commands.js';
import { registerCopyCommands } from './copy-commands.js';

export interface GlobalOptions {
  root?: string;
  config?: string;
  debug?: boolean;
  insecureRegistry?: string[];
  registryMirror?: string[];
  snapshotter?: 'overlay' | 'native';
}

/** Lazily opens the engine so `--help` and argument errors never touch the store. */
export class EngineHandle {
  private engine: Engine | undefined;
  constructor(private readonly program: Command, private readonly io: Io) {}
  get(): Engine {
    if (!this.engine) {
      const g = this.program.opts<GlobalOptions>();
      const config = resolveConfig({
        env: this.io.env,
        ...(g.config ? { configFile: g.config } : {}),
        flags: {
          ...(g.root ? { root: g.root } : {}),
          ...(g.insecureRegistry?.length ? { 'insecure-registries': g.insecureRegistry } : {}),
          ...(g.registryMirror?.length ? { 'registry-mirrors': g.registryMirror } : {}),
          ...(g.snapshotter ? { snapshotter: g.snapshotter } : {}),
        },
      });
      // The CLI's clock is the Io's, so tests can pin "now" for prune --unused-for and until filters.
      this.engine = createEngine(config, { clock: { ...systemClock, now: () => this.io.now() } });
    }
    return this.engine;
  }
  close(): void {
    this.engine?.close();
  }
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function buildProgram(io: Io, signal: AbortSignal): { program: Command; engine: EngineHandle; ctx: CommandContext } {
  const program = new Command('lading');
  const engine = new EngineHandle(program, io);
  program
    .description('A daemonless container image engine')
    .version('0.1.0', '-v, --version')
    .option('--root <dir>', 'root of the local image store (default: $LADING_ROOT, /var/lib/lading as root, else $XDG_DATA_HOME/lading)')
    .option('--config <file>', 'configuration file (JSON, daemon.json-style keys)')
    .option('-D, --debug', 'print stack traces and debug output')
    .option('--insecure-registry <host>', 'talk plain HTTP to this registry (repeatable)', collect)
    .option('--registry-mirror <url>', 'mirror for Docker Hub (repeatable)', collect)
    .addOption(new Option('--snapshotter <kind>', 'how layers are stored').choices(['overlay', 'native']))
    // Global flags go before the command, as Docker's do: `system df -v` is not `--version`.
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();
  const ctx: CommandContext = { io, engine, signal };
  registerImageCommands(program, ctx);
  registerAuthCommands(program, ctx);
  registerManageCommands(program, ctx);
  registerRegistryCommands(program, ctx);
  registerPushCommands(program, ctx);
  registerArchiveCommands(program, ctx);
  registerImportCommands(program, ctx);
  registerCopyCommands(program, ctx);
  return { program, engine, ctx };
}

/** Run the CLI; resolves to the exit code. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  const { program, engine, ctx } = buildProgram(io, controller.signal);
  try {
    await program.parseAsync(argv, { from: 'user' });
    // Never process.exitCode: in-process callers (tests) share it, and node:test sets it on a failure.
    return ctx.exitCode ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      // Docker: flag errors exit 125, argument-count errors 1.
      return e.code === 'commander.unknownOption' || e.code === 'commander.invalidArgument' || e.code === 'commander.optionMissingArgument' ? 125 : 1;
    }
    if (controller.signal.aborted) return 130;
    return reportError(io, e, !!program.opts<GlobalOptions>().debug);
  } finally {
    process.off('SIGINT', onSigint);
    engine.close();
  }
}

export { ClientError };
