// The undici modules http-agent.ts loads instead of undici's index, typed from undici's own
// declarations of what the index exports from them.
declare module 'undici/lib/dispatcher/dispatcher.js' {
  import type { Dispatcher } from 'undici';
  const DispatcherClass: { prototype: Dispatcher };
  export default DispatcherClass;
}
declare module 'undici/lib/dispatcher/agent.js' {
  import type { Agent } from 'undici';
  const AgentClass: typeof Agent;
  export default AgentClass;
}
declare module 'undici/lib/api/index.js' {
  const api: Record<'request' | 'stream' | 'pipeline' | 'upgrade' | 'connect', unknown>;
  export default api;
}
declare module 'undici/lib/interceptor/redirect.js' {
  import type { Dispatcher } from 'undici';
  const createRedirectInterceptor: (opts: { maxRedirections: number }) => Dispatcher.DispatcherComposeInterceptor;
  export default createRedirectInterceptor;
}
