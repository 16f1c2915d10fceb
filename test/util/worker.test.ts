import { describe, expect, it } from 'vitest';
import { workerScript } from '../../src/util/worker.js';

describe('workerScript', () => {
  it('starts the compiled worker.js as a file', () => {
    const caller = 'file:///app/dist/model/worker-start.js';
    const script = workerScript(new URL('./worker.js', caller), caller);
    expect(script).toEqual({ entry: new URL('file:///app/dist/model/worker.js'), eval: false });
  });

  it('starts worker.ts through tsx when running from sources', () => {
    const caller = 'file:///work/src/model/worker-start.ts';
    const script = workerScript(new URL('./worker.js', caller), caller);
    expect(script.eval).toBe(true);
    expect(script.entry).toContain('/tsx/dist/esm/api/');
    expect(script.entry).toContain('await import("file:///work/src/model/worker.ts")');
  });
});
