import { createServer } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, IoError } from '../../src/errors/index.js';
import { MetricsServer, type MetricsServerOptions } from '../../src/http/server.js';
import type { Readiness } from '../../src/http/routes.js';
import { createMetrics } from '../../src/metrics/index.js';
import { rejection } from '../helpers/errors.js';
import { recordingLogger } from '../helpers/logger.js';
import { basic } from '../helpers/tls.js';

const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(overrides: Partial<MetricsServerOptions> = {}): Promise<MetricsServer> {
  const registry = new Registry();
  new Gauge({ name: 'ckawatch_test', help: 'test gauge', registers: [registry] }).set(7);
  const server = await MetricsServer.create({ host: '127.0.0.1', port: 0, registry, ready: () => ({ ready: true, reasons: [] }), logger: recordingLogger(), ...overrides });
  servers.push(server);
  return server;
}

describe('MetricsServer routes', () => {
  it('serves /metrics in the registry content type, on the port it was given', async () => {
    const server = await start();
    expect(server.address.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.address.port}`);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toContain('ckawatch_test 7');
  });

  it('keeps an idle connection open between scrapes (65 s, not Node\'s 5 s)', async () => {
    const server = await start();
    const res = await fetch(`${server.url}/metrics`);
    await res.text();
    expect(res.headers.get('keep-alive')).toBe('timeout=65');
  });

  it('serves the daemon registry from createMetrics', async () => {
    const metrics = createMetrics({ scoreSource: () => [], isReady: () => true, now: () => 0, logger: recordingLogger(), build: { version: '1', node: '2', onnxruntime: '3' } });
    const server = await start({ registry: metrics.registry });
    expect(await (await fetch(`${server.url}/metrics`)).text()).toContain('ckawatch_ready 1');
  });

  it('answers /healthz while the process lives and /readyz with reasons', async () => {
    let readiness: Readiness = { ready: false, reasons: ['model not loaded', 'consumer group not joined'] };
    const server = await start({ ready: () => readiness });
    const health = await fetch(`${server.url}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ready: false, reasons: ['model not loaded', 'consumer group not joined'] });
    readiness = { ready: true, reasons: [], provider: 'webgpu' };
    const ready = await fetch(`${server.url}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([200, { ready: true, reasons: [], provider: 'webgpu' }]);
  });

  it('reports not ready when the readiness check throws', async () => {
    const server = await start({ ready: () => { throw new Error('no model'); } });
    const res = await fetch(`${server.url}/readyz`);
    expect([res.status, await res.json()]).toEqual([503, { ready: false, reasons: ['readiness check failed: no model'] }]);
  });

  it('answers 404 for other paths and 405 for other methods, HEAD like GET without a body', async () => {
    const server = await start();
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    const post = await fetch(`${server.url}/metrics`, { method: 'POST', body: 'x' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    expect((await fetch(`${server.url}/healthz`, { method: 'DELETE' })).status).toBe(405);
    const head = await fetch(`${server.url}/metrics`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    expect((await fetch(`${server.url}/metrics?debug=1`)).status).toBe(200);
  });

  it('answers 500 when a scrape throws, logs it and keeps serving', async () => {
    const registry = new Registry();
    new Gauge({ name: 'ckawatch_broken', help: 'throws', registers: [registry], collect: async () => { throw new Error('collector exploded'); } });
    const logger = recordingLogger();
    const server = await start({ registry, logger });
    const res = await fetch(`${server.url}/metrics`);
    expect([res.status, await res.text()]).toEqual([500, 'metrics collection failed\n']);
    expect(logger.records).toMatchObject([{ level: 'error', msg: 'collecting metrics failed; answering the scrape with 500' }]);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('serves extra routes, and a throwing one becomes a 500', async () => {
    const server = await start({
      routes: {
        '/': ({ url }) => ({ contentType: 'text/html; charset=utf-8', body: `<p>${url.searchParams.get('q') ?? ''}</p>` }),
        '/boom': () => { throw new Error('boom'); },
      },
    });
    expect(await (await fetch(`${server.url}/?q=hi`)).text()).toBe('<p>hi</p>');
    expect((await fetch(`${server.url}/boom`)).status).toBe(500);
  });

  it('refuses to replace a built-in route', async () => {
    await expect(start({ routes: { '/metrics': () => ({ contentType: 'x', body: '' }) } })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[ConfigError: route /metrics is built in and cannot be replaced]`,
    );
  });

  it('fails to start with IoError when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const error = await rejection(start({ port }), IoError);
      expect(error.message).toBe(`cannot listen on 127.0.0.1:${port}: EADDRINUSE (another process holds the port)`);
    } finally {
      blocker.close();
    }
  });
});

describe('MetricsServer basic auth', () => {
  const basicAuth = { username: 'prometheus', password: 's3cret:with:colons' };

  it('requires credentials on /metrics and extra routes, and does not reveal which paths exist', async () => {
    const server = await start({ basicAuth, routes: { '/': () => ({ contentType: 'text/plain', body: 'home' }) } });
    for (const path of ['/metrics', '/', '/nope']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="ckawatch", charset="UTF-8"');
    }
  });

  it('accepts the right credentials and rejects wrong ones', async () => {
    const server = await start({ basicAuth });
    expect((await fetch(`${server.url}/metrics`, { headers: basic('prometheus', 's3cret:with:colons') })).status).toBe(200);
    expect((await fetch(`${server.url}/nope`, { headers: basic('prometheus', 's3cret:with:colons') })).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { headers: basic('prometheus', 's3cret') })).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: basic('admin', 's3cret:with:colons') })).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer abc' } })).status).toBe(401);
  });

  it('leaves /healthz and /readyz open for probes', async () => {
    const server = await start({ basicAuth, ready: () => ({ ready: false, reasons: ['starting'] }) });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
  });

  it('refuses unusable credentials', async () => {
    await expect(start({ basicAuth: { username: 'a:b', password: 'x' } })).rejects.toBeInstanceOf(ConfigError);
    await expect(start({ basicAuth: { username: 'a', password: '' } })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[ConfigError: basic auth password must not be empty]`,
    );
  });
});

describe('MetricsServer.close', () => {
  it('lets a request in flight finish, closes idle keep-alive connections at once', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const server = await start({ routes: { '/slow': async () => { await gate; return { contentType: 'text/plain', body: 'done' }; } } });
    // Two at once: two keep-alive connections, one of which stays idle during /slow.
    const warm = await Promise.all([fetch(`${server.url}/healthz`), fetch(`${server.url}/healthz`)]);
    await Promise.all(warm.map((res) => res.text()));
    const slow = fetch(`${server.url}/slow`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = server.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(false);
    release();
    expect(await (await slow).text()).toBe('done');
    const started = Date.now();
    await closing;
    // The point: idle keep-alive sockets do not hold close() until their 5 s timeout. The
    // bound sits well below that and well above a loaded machine's scheduling delays.
    expect(Date.now() - started).toBeLessThan(3_000);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});
