import type { Agent } from 'undici';
// undici's own modules, not its index: see createHttpAgent. Their types are in undici-internals.d.ts.
import DispatcherClass from 'undici/lib/dispatcher/dispatcher.js';
import AgentClass from 'undici/lib/dispatcher/agent.js';
import api from 'undici/lib/api/index.js';

type AgentOptions = ConstructorParameters<typeof Agent>[0];

/**
 * undici's Agent without undici's index. The index also loads fetch, WebSocket, the mock and
 * cache layers and, through its cookie module, Node's own bundled copy of undici: some 80 ms of
 * every CLI start (measured with --cpu-prof), for nothing we use. We need the Agent and the
 * request API, which the index attaches to Dispatcher.prototype; we attach the same functions.
 * The CLI bundles these modules (scripts/bundle-cli.mjs), so they also come from its code cache.
 */
export function createHttpAgent(opts: AgentOptions): Agent {
  if (!('request' in DispatcherClass.prototype)) Object.assign(DispatcherClass.prototype, api);
  return new AgentClass(opts);
}

/** undici's redirect interceptor (the index's `interceptors.redirect`). */
export { default as redirectInterceptor } from 'undici/lib/interceptor/redirect.js';
