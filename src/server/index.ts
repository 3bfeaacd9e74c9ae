export { Router, type Handler, type RequestContext, type RouteMatch } from './router.js';
export { HttpError } from './http-error.js';
export { startHttpServer, parseListenAddress, type HttpServerOptions, type RunningHttpServer, type ErrorMapper } from './http-server.js';
export { readBody, sendBytes, sendJson, sendEmpty } from './body.js';
export { createLogger, silentLogger, type Logger } from './logger.js';
