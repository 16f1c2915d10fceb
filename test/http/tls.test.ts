import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors/index.js';
import { MetricsServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/metrics/index.js';
import { recordingLogger } from '../helpers/logger.js';
import { basic, httpsGet, selfSignedCert } from '../helpers/tls.js';

describe('MetricsServer over TLS', () => {
  let pem: { cert: string; key: string };
  let server: MetricsServer;
  beforeAll(async () => {
    pem = await selfSignedCert();
    const metrics = createMetrics({ scoreSource: () => [], isReady: () => true, now: () => 0, logger: recordingLogger(), build: { version: '1', node: '2', onnxruntime: '3' } });
    server = await MetricsServer.create({
      host: '127.0.0.1',
      port: 0,
      registry: metrics.registry,
      ready: () => ({ ready: true, reasons: [] }),
      tls: pem,
      basicAuth: { username: 'u', password: 'p' },
      logger: recordingLogger(),
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('serves https with the given certificate', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await httpsGet(`${server.url}/metrics`, pem.cert, basic('u', 'p'));
    expect(res.status).toBe(200);
    expect(res.body).toContain('ckawatch_build_info');
    expect((await httpsGet(`${server.url}/metrics`, pem.cert)).status).toBe(401);
    expect((await httpsGet(`${server.url}/healthz`, pem.cert)).body).toBe('ok\n');
  });

  it('is refused by a client that does not trust the certificate', async () => {
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });

  it('refuses PEM that is not a certificate and key', async () => {
    await expect(
      MetricsServer.create({ host: '127.0.0.1', port: 0, registry: createMetrics({ scoreSource: () => [], isReady: () => true, now: () => 0, logger: recordingLogger(), build: { version: '1', node: '2', onnxruntime: '3' } }).registry, ready: () => ({ ready: true, reasons: [] }), tls: { cert: 'not pem', key: pem.key }, logger: recordingLogger() }),
    ).rejects.toBeInstanceOf(ConfigError);
  });
});
