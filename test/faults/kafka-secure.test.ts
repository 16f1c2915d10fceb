/**
 * Kafka with SASL over TLS, on a broker of this test's own (scripts/kafka.sh with
 * KAFKA_EXTRA_CONFIG): a private CA and a broker certificate for 127.0.0.1 made with
 * openssl, a SASL_SSL listener (PLAIN) beside the PLAINTEXT one that the test produces on.
 *
 *   test ──PLAINTEXT──▶ broker ◀──SASL_SSL (CA-verified, alice/password)── daemon ─▶ /metrics: every sample
 *                              ◀──SASL_SSL, wrong password───────────────── daemon ─▶ never ready, says why
 *   all daemon output, at debug level ─▶ never the password
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DaemonProcess, editConfig } from '../helpers/daemon.js';
import { SMALL_RUN, useDaemonSuite, waitForCommitsAtEnd } from '../helpers/daemon-suite.js';
import { heldOutDigits, rawMessage } from '../helpers/digits.js';
import { produce } from '../helpers/kafka.js';
import { samplesOf } from '../helpers/metrics.js';
import { useOwnBroker } from '../helpers/own-broker.js';
import { valueOf } from '../helpers/prom-text.js';

const PASSWORD = 'kafka-S3cret-9d2b71';
const WRONG = 'not-the-password-5e8a';

let caPath: string;

/** A CA, and a broker certificate for IP 127.0.0.1 signed by it; returns the CA path and the broker's PEM (key + chain). */
function makeCertificates(dir: string): { ca: string; brokerPem: string } {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=ckawatch test CA');
  ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'broker.key', '-out', 'broker.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ossl('x509', '-req', '-in', 'broker.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'broker.crt', '-days', '1', '-extfile', 'san.ext');
  // Kafka's PEM key store: an unencrypted PKCS#8 key, then the certificate chain.
  ossl('pkcs8', '-topk8', '-nocrypt', '-in', 'broker.key', '-out', 'broker.pk8');
  const brokerPem = join(dir, 'broker-keystore.pem');
  writeFileSync(brokerPem, readFileSync(join(dir, 'broker.pk8'), 'utf8') + readFileSync(join(dir, 'broker.crt'), 'utf8'));
  return { ca: join(dir, 'ca.pem'), brokerPem };
}

// The certificates and the listener config go in the broker's own run dir; the test
// produces over PLAINTEXT (CKAWATCH_TEST_BROKERS), the daemon reads over SASL_SSL.
const broker = useOwnBroker({
  extraConfig: (extra, runDir) => {
    const { ca, brokerPem } = makeCertificates(runDir);
    caPath = ca;
    const file = join(runDir, 'secure.properties');
    const jaas = `org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="${PASSWORD}";`;
    writeFileSync(
      file,
      [
        // KAFKA_PORT and KAFKA_CONTROLLER_PORT are the two ports below `extra`.
        `listeners=PLAINTEXT://127.0.0.1:${extra - 2},CONTROLLER://127.0.0.1:${extra - 1},SASL_SSL://127.0.0.1:${extra}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${extra - 2},SASL_SSL://127.0.0.1:${extra}`,
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL',
        'sasl.enabled.mechanisms=PLAIN',
        `listener.name.sasl_ssl.plain.sasl.jaas.config=${jaas}`,
        'ssl.keystore.type=PEM',
        `ssl.keystore.location=${brokerPem}`,
        '',
      ].join('\n'),
    );
    return file;
  },
});
const suite = useDaemonSuite('ckawatch-faults-secure-', { referenceDigits: 500, defaults: SMALL_RUN });

function secureSource(config: string, password: 'right' | 'wrong'): NodeJS.ProcessEnv {
  editConfig(config, (c) => {
    c['source']!['brokers'] = [`127.0.0.1:${broker.extraPort}`];
    c['source']!['ssl'] = { ca: caPath };
    c['source']!['sasl'] = { mechanism: 'plain', username: 'alice', passwordEnv: 'CKAWATCH_TEST_KAFKA_PASSWORD' };
  });
  return { CKAWATCH_TEST_KAFKA_PASSWORD: password === 'right' ? PASSWORD : WRONG };
}

describe('Kafka over SASL_SSL', () => {
  it('consumes every sample over SASL PLAIN on TLS with a private CA, and never logs the password', async () => {
    const run = await suite.run('faults-sasl', 1, { logLevel: 'debug' });
    const env = secureSource(run.config, 'right');
    await produce(run.topic, heldOutDigits(200).map(rawMessage));
    const d = await DaemonProcess.start(run.config, { env, timeoutMs: 60_000 });
    await d.waitForMetrics((s) => samplesOf(s, run.topic) === 200 && valueOf(s, 'ckawatch_ready') === 1, '200 samples over SASL_SSL', {
      timeoutMs: 90_000,
      show: (s) => samplesOf(s, run.topic),
    });
    await waitForCommitsAtEnd(run.groupId, run.topic, d);
    expect((await d.stop()).code).toBe(0);
    expect(d.lines.join('\n')).not.toContain(PASSWORD);
  }, 240_000);

  it('with a wrong password: never ready, an authentication error in the log, no password in it', async () => {
    const run = await suite.run('faults-sasl-wrong', 1, { logLevel: 'debug' });
    const env = secureSource(run.config, 'wrong');
    await produce(run.topic, heldOutDigits(10).map(rawMessage));
    const d = await DaemonProcess.start(run.config, { env, timeoutMs: 60_000 }).catch((e: Error) => e);
    if (d instanceof DaemonProcess) {
      // Either it exits (cannot reach Kafka) or it stays up and unready: until the broker's
      // refusal is in its log (it reaches Kafka only after loading the model and calibrating,
      // which on a busy machine has taken over 10 s), never ready meanwhile, nor after.
      const refused = (): boolean => /SASL|[Aa]uthentication/.test(d.lines.join('\n'));
      const deadline = Date.now() + 90_000;
      for (;;) {
        const ready = await fetch(`${d.url}/readyz`).then((r) => r.status, () => 0);
        expect(ready).not.toBe(200);
        if (refused() || d.exit !== null || Date.now() > deadline) break;
        await sleep(500);
      }
      if (process.env['CKAWATCH_TEST_VERBOSE'] === '1') console.info({ exit: d.exit, tail: d.logTail(8) });
      await d.kill('SIGKILL');
      const all = d.lines.join('\n');
      expect(all, d.logTail()).toMatch(/SASL|[Aa]uthentication/);
      expect(all).not.toContain(WRONG);
      expect(all).not.toContain(PASSWORD);
    } else {
      expect(d.message).toMatch(/SASL|[Aa]uthentication/);
      expect(d.message).not.toContain(WRONG);
    }
  }, 240_000);
});
