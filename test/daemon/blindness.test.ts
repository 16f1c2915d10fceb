import { describe, expect, it } from 'vitest';
import { createBlindness } from '../../src/daemon/blindness.js';

describe('blindness', () => {
  it('is blind once an arrival has gone unscored for afterMs, and sees again at the next scored batch', () => {
    let t = 0;
    const b = createBlindness(60_000, () => t);
    expect(b.reason()).toBeNull(); // nothing arrived: a quiet stream is not blind
    t = 10_000;
    b.arrived(5);
    t = 69_999;
    b.arrived(7);
    expect(b.reason()).toBeNull();
    t = 70_000; // the first of them has waited 60 s
    expect(b.reason()).toMatch(/^blind: 12 messages in 60 s and none reached the statistics/);
    b.scored();
    expect(b.reason()).toBeNull();
    t = 200_000;
    expect(b.reason()).toBeNull(); // quiet again after a scored batch
    b.arrived(0);
    t = 400_000;
    expect(b.reason()).toBeNull(); // no message in an apply is no arrival
  });

  it('counts arrivals from the oldest unscored one, not from the last batch', () => {
    let t = 0;
    const b = createBlindness(1_000, () => t);
    b.scored();
    t = 50_000; // a long quiet spell, then one rejected message
    b.arrived(1);
    t = 50_999;
    expect(b.reason()).toBeNull();
    t = 51_000;
    expect(b.reason()).not.toBeNull();
  });
});
