/**
 * Security at the process level (the HTTP server's own units are in test/http):
 *
 *   daemon ─▶ https://127.0.0.1:port (TLS, basic auth) ─▶ 401 without or with wrong credentials, 200 with them
 *          └─ bound to 127.0.0.1 only: another local address of this machine refuses
 *   tampered model + sha256 pin ─▶ exit 2, one line on stderr, no stack
 *   every line the daemon printed ─▶ no password (basic auth), even at debug level
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DaemonProcess, editConfig } from '../helpers/daemon.js';
import { SMALL_RUN, useDaemonSuite } from '../helpers/daemon-suite.js';
import { heldOutDigits, rawMessage } from '../helpers/digits.js';
import { DIGITS_MODEL } from '../helpers/fixtures.js';
import { produce, waitFor } from '../helpers/kafka.js';
import { samplesOf } from '../helpers/metrics.js';
import { parsePromText } from '../helpers/prom-text.js';
import { basic, httpsGet, selfSignedCert } from '../helpers/tls.js';

const METRICS_PASSWORD = 'metrics-S3cret-e4f1c2';

const suite = useDaemonSuite('ckawatch-faults-security-', { referenceDigits: 500, defaults: SMALL_RUN });

/** An IPv4 address of this machine other than loopback, if it has one. */
function otherAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

function refuses(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port, timeout: 2_000 });
    socket.once('connect', () => (socket.destroy(), done(false)));
    socket.once('timeout', () => (socket.destroy(), done(true)));
    socket.once('error', () => done(true));
  });
}

describe('security at the process level', () => {
  it('serves /metrics over TLS with basic auth on the configured address, and never logs the password', async () => {
    const pem = await selfSignedCert();
    const run = await suite.run('faults-https', 1, { logLevel: 'debug' });
    writeFileSync(join(run.dir, 'cert.pem'), pem.cert);
    writeFileSync(join(run.dir, 'key.pem'), pem.key);
    editConfig(run.config, (c) => {
      c['metrics'] = {
        host: '127.0.0.1',
        port: 0,
        basicAuth: { username: 'prometheus', passwordEnv: 'CKAWATCH_TEST_METRICS_PASSWORD' },
        tls: { cert: join(run.dir, 'cert.pem'), key: join(run.dir, 'key.pem') },
      };
    });
    await produce(run.topic, heldOutDigits(64).map(rawMessage));
    const d = await DaemonProcess.start(run.config, { env: { CKAWATCH_TEST_METRICS_PASSWORD: METRICS_PASSWORD } });
    expect(d.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(new URL(d.url).port);

    expect((await httpsGet(`${d.url}/metrics`, pem.cert)).status).toBe(401);
    expect((await httpsGet(`${d.url}/metrics`, pem.cert, basic('prometheus', 'wrong'))).status).toBe(401);
    expect((await httpsGet(`${d.url}/metrics`, pem.cert, basic('someone', METRICS_PASSWORD))).status).toBe(401);
    await waitFor(
      async () => {
        const r = await httpsGet(`${d.url}/metrics`, pem.cert, basic('prometheus', METRICS_PASSWORD));
        return r.status === 200 && samplesOf(parsePromText(r.body), run.topic) === 64;
      },
      60_000,
      '64 samples on an authenticated https scrape',
      200,
    );
    // Plain http on the TLS port gets no metrics.
    const plain = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3_000) }).then(
      (r) => r.status,
      () => 'closed',
    );
    expect(plain).not.toBe(200);
    // Bound to loopback only.
    const other = otherAddress();
    if (other) expect(await refuses(other, port), `port ${port} answered on ${other}`).toBe(true);

    expect((await d.stop()).code).toBe(0);
    const all = d.lines.join('\n');
    expect(d.lines.length).toBeGreaterThan(5);
    expect(all).not.toContain(METRICS_PASSWORD);
    expect(all).not.toContain(Buffer.from(`prometheus:${METRICS_PASSWORD}`).toString('base64'));
  });

  it('refuses a model that does not match its sha256 pin: exit 2, one line', async () => {
    const run = await suite.run('faults-pin', 1);
    const original = readFileSync(DIGITS_MODEL);
    const pin = createHash('sha256').update(original).digest('hex');
    const tampered = join(run.dir, 'model.onnx');
    copyFileSync(DIGITS_MODEL, tampered);
    const bytes = readFileSync(tampered);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0x01; // one bit, in the weights
    writeFileSync(tampered, bytes);
    editConfig(run.config, (c) => {
      c['model'] = { ...c['model'], path: tampered, sha256: pin };
    });
    const d = await DaemonProcess.start(run.config).catch((error: Error) => error);
    // It may or may not print its URL before checking the model; either way it exits 2.
    const exit = d instanceof DaemonProcess ? await d.exited : null;
    const message = d instanceof Error ? d.message : '';
    if (exit) expect(exit.code).toBe(2);
    else expect(message).toMatch(/exited \(exit code 2\)/);
    const lines = d instanceof DaemonProcess ? d.lines : message.split('\n');
    const stderr = lines.filter((l) => l.startsWith('[stderr] '));
    expect(stderr, lines.join('\n')).toHaveLength(1);
    expect(stderr[0]).toMatch(new RegExp(`^\\[stderr\\] ckawatch: \\S*model\\.onnx has SHA-256 [0-9a-f]{64}, but the configuration pins ${pin}: refusing to load it$`));
    expect(lines.join('\n')).not.toMatch(/^\s+at /m);
  });
});
