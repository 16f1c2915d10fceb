import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/config/duration.js';
import { closestKey } from '../../src/config/suggest.js';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['24h', 86_400_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['0s', 0],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '30', 's', '1.5h', '-5m', '5 m', '5M', '1h 30m', '1w', '10000000000s', '1e3s'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('round-trips through formatDuration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 90 * 86_400_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
    expect(formatDuration(5_400_000)).toBe('1h30m');
  });
});

describe('closestKey', () => {
  const known = ['brokers', 'topic', 'groupId', 'clientId', 'fromBeginning', 'passwordEnv'];
  it.each([
    ['broker', 'brokers'],
    ['topik', 'topic'],
    ['group_id', 'groupId'],
    ['GROUPID', 'groupId'],
    ['from-beginning', 'fromBeginning'],
    ['password', 'passwordEnv'],
  ])('%s -> %s', (typo, key) => expect(closestKey(typo, known)).toBe(key));

  it('suggests nothing for a word that is not close', () => {
    expect(closestKey('partitions', known)).toBeUndefined();
    expect(closestKey('x'.repeat(100), known)).toBeUndefined();
  });
});
