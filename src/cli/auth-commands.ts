import type { Command } from 'commander';
import { readLimited } from '../util/index.js';
import type { CommandContext } from './context.js';
import { ClientError } from './output.js';

export function registerAuthCommands(program: Command, ctx: CommandContext): void {
  program
    .command('login')
    .argument('[server]', 'registry (default: Docker Hub)')
    .option('-u, --username <username>', 'username')
    .option('-p, --password <password>', 'password')
    .option('--password-stdin', 'take the password from stdin')
    .description('Log in to a registry')
    .action(async (server: string | undefined, opts: { username?: string; password?: string; passwordStdin?: boolean }) => {
      const io = ctx.io;
      let password = opts.password;
      if (opts.passwordStdin) {
        if (password) throw new ClientError('INVALID_ARGUMENT', '--password and --password-stdin are mutually exclusive');
        if (!opts.username) throw new ClientError('INVALID_ARGUMENT', 'Must provide --username with --password-stdin');
        password = (await readLimited((io.stdin ?? process.stdin) as AsyncIterable<Uint8Array>, 64 * 1024, 'password')).toString('utf8').replace(/\r?\n$/, '');
      } else if (password) {
        io.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      }
      let username = opts.username;
      if (!username || password === undefined) {
        // Loaded here: only an interactive login prompts.
        const { createInterface } = await import('node:readline/promises');
        const rl = createInterface({ input: io.stdin ?? process.stdin, output: process.stderr, terminal: false });
        try {
          if (!username) username = (await rl.question('Username: ')).trim();
          if (password === undefined) password = await rl.question('Password: ');
        } finally {
          rl.close();
        }
      }
      if (!username) throw new ClientError('INVALID_ARGUMENT', 'Error: Non-null Username Required');
      if (!password) throw new ClientError('INVALID_ARGUMENT', 'Error: Non-null Password Required');
      await ctx.engine.get().login(server, { username, password }, { signal: ctx.signal });
      io.stdout.write('Login Succeeded\n');
    });

  program
    .command('logout')
    .argument('[server]', 'registry (default: Docker Hub)')
    .description('Log out from a registry')
    .action(async (server: string | undefined) => {
      const removed = await ctx.engine.get().logout(server);
      const name = server ?? 'https://index.docker.io/v1/';
      ctx.io.stdout.write(removed ? `Removing login credentials for ${name}\n` : `Not logged in to ${name}\n`);
    });
}
