import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { ConfigError, IoError } from '../errors/index.js';
import type { Logger } from '../util/logger.js';
import { createBasicAuthCheck, type BasicAuthCredentials } from './basic-auth.js';
import { healthRoute, metricsRoute, readyRoute, type Readiness, type RouteHandler, type RouteResponse } from './routes.js';

export interface MetricsServerOptions {
  readonly host: string;
  /** 0 picks a free port; read it back from `address` */
  readonly port: number;
  readonly registry: Registry;
  readonly ready: () => Readiness;
  /**
   * Required on every route except /healthz and /readyz: Kubernetes probes cannot send
   * credentials, and those two reveal nothing but liveness and readiness reasons.
   */
  readonly basicAuth?: BasicAuthCredentials;
  /** PEM contents (not paths) */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** extra GET routes by exact path, behind basic auth like /metrics */
  readonly routes?: Readonly<Record<string, RouteHandler>>;
  /** > 0: scrapes within this many ms of a rendering get that rendering (see metricsRoute); default 0 */
  readonly metricsCacheMs?: number;
  readonly logger: Logger;
}

interface Route {
  readonly handler: RouteHandler;
  readonly public: boolean;
}

const TEXT = 'text/plain; charset=utf-8';

/**
 * /metrics, /healthz and /readyz over HTTP or HTTPS. Requests are answered, never
 * allowed to crash the process: anything a handler throws becomes a logged 500.
 */
export class MetricsServer {
  readonly #server: HttpServer | HttpsServer;
  readonly #tls: boolean;
  readonly #state: { closing: boolean };
  readonly #address: { readonly host: string; readonly port: number };
  #closed: Promise<void> | undefined;

  private constructor(server: HttpServer | HttpsServer, tls: boolean, state: { closing: boolean }) {
    this.#server = server;
    this.#tls = tls;
    this.#state = state;
    // Read once: server.address() is null after close, and the address never changes.
    const bound = server.address() as AddressInfo;
    this.#address = { host: bound.address, port: bound.port };
  }

  static async create(options: MetricsServerOptions): Promise<MetricsServer> {
    const { logger } = options;
    const routes = new Map<string, Route>([
      ['/metrics', { handler: metricsRoute(options.registry, logger, { cacheMs: options.metricsCacheMs ?? 0 }), public: false }],
      ['/healthz', { handler: healthRoute(), public: true }],
      ['/readyz', { handler: readyRoute(options.ready, logger), public: true }],
    ]);
    for (const [path, handler] of Object.entries(options.routes ?? {})) {
      if (routes.has(path)) throw new ConfigError(`route ${path} is built in and cannot be replaced`);
      if (!path.startsWith('/')) throw new ConfigError(`route "${path}" must start with "/"`);
      routes.set(path, { handler, public: false });
    }
    const authorized = options.basicAuth === undefined ? () => true : createBasicAuthCheck(options.basicAuth);
    const state = { closing: false };
    const listener = (req: IncomingMessage, res: ServerResponse): void => {
      handle(req, res, routes, authorized, logger, state).catch((err: unknown) => {
        logger.error({ err }, 'HTTP request failed');
        if (res.headersSent) res.destroy();
        else send(res, { status: 500, contentType: TEXT, body: 'internal error\n' }, state);
      });
    };

    let server: HttpServer | HttpsServer;
    if (options.tls === undefined) {
      server = createHttpServer(listener);
    } else {
      try {
        server = createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, listener);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new ConfigError(`cannot use the TLS certificate and key (PEM contents expected): ${reason}`, { cause: err });
      }
    }
    await new Promise<void>((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException): void => {
        const hint = err.code === 'EADDRINUSE' ? ' (another process holds the port)' : '';
        const message = `cannot listen on ${options.host}:${options.port}: ${err.code ?? err.message}${hint}`;
        reject(new IoError(message, { retriable: err.code === 'EADDRINUSE', cause: err }));
      };
      server.once('error', failed);
      server.listen(options.port, options.host, () => {
        server.off('error', failed);
        resolve();
      });
    });
    server.on('error', (err) => logger.error({ err }, 'metrics server error'));
    // Idle connections stay open between scrapes (Node's default closes them after 5 s):
    // scrapers and proxies that reuse a connection then rarely meet one the server is
    // closing at that very moment, which they see as ECONNRESET (an in-process test did,
    // while a recalibration held the event loop). 65 s outlasts the usual 60 s idle timeouts
    // of proxies in front; headers must be allowed to take longer than that.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    return new MetricsServer(server, options.tls !== undefined, state);
  }

  /** The bound address (the real port when created with port 0). */
  get address(): { readonly host: string; readonly port: number } {
    return this.#address;
  }

  get url(): string {
    const { host, port } = this.address;
    return `${this.#tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /**
   * Stops accepting connections, lets requests in flight finish, then resolves. Idle
   * keep-alive connections close at once; busy ones are cut after `timeoutMs`.
   */
  close(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    this.#state.closing = true;
    this.#closed ??= new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.#server.closeAllConnections(), options.timeoutMs ?? 5_000);
      timer.unref();
      // Since Node 19, close() also closes idle keep-alive connections; busy ones end with
      // their response (Connection: close, see send) or at the timeout.
      this.#server.close((err) => {
        clearTimeout(timer);
        if (err === undefined) resolve();
        else reject(new IoError(`cannot close the metrics server: ${err.message}`, { cause: err }));
      });
    });
    return this.#closed;
  }
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  routes: ReadonlyMap<string, Route>,
  authorized: (header: string | undefined) => boolean,
  logger: Logger,
  state: { readonly closing: boolean },
): Promise<void> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    send(res, { status: 400, contentType: TEXT, body: 'bad request target\n' }, state);
    return;
  }
  const route = routes.get(url.pathname);
  // Credentials before 404, so that without them the server does not tell which paths exist.
  if (route?.public !== true && !authorized(req.headers.authorization)) {
    const challenge = { 'WWW-Authenticate': 'Basic realm="ckawatch", charset="UTF-8"' };
    send(res, { status: 401, contentType: TEXT, body: 'unauthorized\n', headers: challenge }, state);
    return;
  }
  if (route === undefined) {
    send(res, { status: 404, contentType: TEXT, body: 'not found\n' }, state);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, { status: 405, contentType: TEXT, body: 'method not allowed\n', headers: { Allow: 'GET, HEAD' } }, state);
    return;
  }
  let response: RouteResponse;
  try {
    response = await route.handler({ url, headers: req.headers });
  } catch (err) {
    logger.error({ err, path: url.pathname }, 'route handler failed');
    response = { status: 500, contentType: TEXT, body: 'internal error\n' };
  }
  send(res, response, state);
}

function send(res: ServerResponse, response: RouteResponse, state: { readonly closing: boolean }): void {
  const body = typeof response.body === 'string' ? Buffer.from(response.body, 'utf8') : response.body;
  res.writeHead(response.status ?? 200, {
    ...response.headers,
    // Once closing, every response ends its connection, so that keep-alive clients cannot hold close() open.
    ...(state.closing ? { Connection: 'close' } : {}),
    'Content-Type': response.contentType,
    'Content-Length': body.byteLength,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  // Node drops the body itself for HEAD requests.
  res.end(body);
}
