import { describe, expect, it } from 'vitest';
import { workerScript } from '../../src/model/worker-script.js';

describe('workerScript', () => {
  it('starts the compiled worker.js as a file', () => {
    const script = workerScript('file:///app/dist/model/worker-start.js');
    expect(script).toEqual({ entry: new URL('file:///app/dist/model/worker.js'), eval: false });
  });

  it('starts worker.ts through tsx when running from sources', () => {
    const script = workerScript('file:///work/src/model/worker-start.ts');
    expect(script.eval).toBe(true);
    expect(script.entry).toContain('/tsx/dist/esm/api/');
    expect(script.entry).toContain('await import("file:///work/src/model/worker.ts")');
  });
});
