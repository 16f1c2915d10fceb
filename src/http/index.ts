/** The HTTP endpoints: /metrics, /healthz, /readyz and extra GET routes. */
export { MetricsServer, type MetricsServerOptions } from './server.js';
export type { BasicAuthCredentials } from './basic-auth.js';
export type { Readiness, RouteHandler, RouteRequest, RouteResponse } from './routes.js';
