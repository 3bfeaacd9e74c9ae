import { createRequire } from 'node:module';
import type { Agent } from 'undici';

type AgentOptions = ConstructorParameters<typeof Agent>[0];

const require = createRequire(import.meta.url);

/**
 * undici's Agent without undici's index. The index also loads fetch, WebSocket, the mock and
 * cache layers and, through its cookie module, Node's own bundled copy of undici: some 80 ms of
 * every CLI start (measured with --cpu-prof), for nothing we use. We need the Agent and the
 * request API, which the index attaches to Dispatcher.prototype; we attach the same functions.
 * Should undici's layout ever change, the full package is loaded instead.
 */
export function createHttpAgent(opts: AgentOptions): Agent {
  try {
    const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
    const api = require('undici/lib/api/index.js') as object;
    const AgentClass = require('undici/lib/dispatcher/agent.js') as typeof Agent;
    if (!('request' in Dispatcher.prototype)) Object.assign(Dispatcher.prototype, api);
    return new AgentClass(opts);
  } catch {
    const full = require('undici') as typeof import('undici');
    return new full.Agent(opts);
  }
}
