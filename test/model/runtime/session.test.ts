import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../../../src/errors/index.js';
import { createSession } from '../../../src/model/runtime/session.js';
import { tinyModel } from '../../helpers/fixtures.js';
import { captureLogger } from '../../helpers/logger.js';

const bytes = await readFile(tinyModel('tiny-resnet-op13.onnx'));
const ortBin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', 'linux', 'x64');
const cudaInstalled = existsSync(join(ortBin, 'libonnxruntime_providers_cuda.so'));

describe('createSession', () => {
  it('loads on the CPU', async () => {
    const { logger, warnings } = captureLogger();
    const { session, provider } = await createSession(bytes, ['cpu'], { logger, threads: 1 });
    expect(provider).toBe('cpu');
    expect(session.outputNames).toEqual(['logits']);
    expect(warnings).toEqual([]);
    await session.release();
  });

  it('falls back from WebGPU to the CPU with a warning when there is no GPU adapter', async () => {
    const { logger, warnings, infos } = captureLogger();
    const { session, provider } = await createSession(bytes, ['webgpu', 'cpu'], { logger });
    await session.release();
    if (provider === 'webgpu') {
      // A machine with a working Vulkan GPU: no fallback, but the caveat about CPU-placed nodes.
      expect(infos.some((i) => i.message.includes('on the CPU'))).toBe(true);
      return;
    }
    expect(provider).toBe('cpu');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toBe("execution provider 'webgpu' failed to load the model; trying 'cpu'");
    expect(warnings[0]!.fields).toMatchObject({ provider: 'webgpu' });
  });

  it.skipIf(cudaInstalled)('falls back from CUDA when its provider libraries are not installed, and says how to install them', async () => {
    const { logger, warnings } = captureLogger();
    const { session, provider } = await createSession(bytes, ['cuda', 'bogus', 'cpu'], { logger });
    await session.release();
    expect(provider).toBe('cpu');
    expect(warnings.map((w) => w.message)).toEqual([
      "execution provider 'cuda' failed to load the model; trying 'bogus'",
      "unknown execution provider 'bogus' (ckawatch knows cuda, tensorrt, webgpu, cpu); trying 'cpu'",
    ]);
    const failed = await createSession(bytes, ['cuda'], { logger }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ModelError);
    expect((failed as Error).message).toMatch(/npm run install:cuda/);
  });

  it('logs through a pino logger', async () => {
    const lines: string[] = [];
    const logger = pino({ base: null, timestamp: false }, new Writable({ write: (chunk, _enc, done) => done(void lines.push(String(chunk))) }));
    const { session } = await createSession(bytes, ['bogus', 'cpu'], { logger });
    await session.release();
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { level: 40, provider: 'bogus', msg: "unknown execution provider 'bogus' (ckawatch knows cuda, tensorrt, webgpu, cpu); trying 'cpu'" },
    ]);
  });

  it('lists every reason when no provider works', async () => {
    const { logger } = captureLogger();
    await expect(createSession(bytes, ['bogus', 'tpu'], { logger })).rejects.toThrowErrorMatchingInlineSnapshot(`
      [ModelError: no execution provider could load the model:
        unknown execution provider 'bogus' (ckawatch knows cuda, tensorrt, webgpu, cpu)
        unknown execution provider 'tpu' (ckawatch knows cuda, tensorrt, webgpu, cpu)
      add 'cpu' as the last provider to always have a fallback]
    `);
    await expect(createSession(bytes, [], { logger })).rejects.toThrow(/no execution providers given/);
  });

  it('reports a model the CPU provider cannot load', async () => {
    const { logger } = captureLogger();
    const broken = bytes.subarray(0, bytes.length - 40);
    await expect(createSession(broken, ['cpu'], { logger })).rejects.toThrow(/cpu: .*the model itself cannot be loaded/);
  });
});
