import { describe, expect, it } from 'vitest';
import { createBasicAuthCheck } from '../../src/http/basic-auth.js';

const header = (raw: string): string => `Basic ${Buffer.from(raw, 'utf8').toString('base64')}`;

describe('createBasicAuthCheck', () => {
  const check = createBasicAuthCheck({ username: 'prométhée', password: 'p:a:ss' });

  it('accepts the exact pair, whatever the scheme case', () => {
    expect(check(header('prométhée:p:a:ss'))).toBe(true);
    expect(check(header('prométhée:p:a:ss').replace('Basic', 'basic'))).toBe(true);
  });

  it('rejects anything else', () => {
    for (const candidate of [undefined, '', 'Basic', 'Basic !!!', header('prométhée'), header('prométhée:p:a:s'), header('prométhée:p:a:ss '), header(':p:a:ss'), `Bearer ${header('prométhée:p:a:ss').slice(6)}`]) {
      expect(check(candidate), String(candidate)).toBe(false);
    }
  });
});
