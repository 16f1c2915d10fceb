import { describe, expect, it } from 'vitest';
import { AutoFraction } from '../../src/daemon/auto-fraction.js';
import { createSampling, sampleKey } from '../../src/daemon/sampling.js';

/** Pearson's chi-square statistic of counts against equal expected counts. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
}

// Upper 0.1% points of chi-square: 99 degrees of freedom 148.2, 15 (4 x 4 bins - 1) 37.7.
const CHI2_99_999 = 148.2;

describe('sampleKey', () => {
  it('is a function of (topic, partition, offset, index) alone, in [0, 1)', () => {
    const a = sampleKey('samples', 3, 123_456_789_012, 2);
    expect(sampleKey('samples', 3, 123_456_789_012, 2)).toBe(a);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThan(1);
    // every coordinate matters, offsets above 2^32 included
    expect(new Set([a, sampleKey('samples2', 3, 123_456_789_012, 2), sampleKey('samples', 4, 123_456_789_012, 2), sampleKey('samples', 3, 123_456_789_013, 2), sampleKey('samples', 3, 123_456_789_012 + 2 ** 32, 2), sampleKey('samples', 3, 123_456_789_012, 3)]).size).toBe(6);
  });

  it('is uniform over consecutive offsets, partitions and sample indices (chi-square, 100 bins)', () => {
    const cases: [string, (i: number) => number][] = [
      ['offsets', (i) => sampleKey('t', 0, i, 0)],
      ['offsets past 2^32', (i) => sampleKey('t', 0, 2 ** 32 + i * 7, 0)],
      ['partitions', (i) => sampleKey('t', i % 1000, Math.floor(i / 1000), 0)],
      ['indices in a record', (i) => sampleKey('t', 0, Math.floor(i / 64), i % 64)],
      ['topics', (i) => sampleKey(`topic-${i % 500}`, 0, Math.floor(i / 500), 0)],
    ];
    for (const [name, key] of cases) {
      const bins = new Array<number>(100).fill(0);
      for (let i = 0; i < 100_000; i++) bins[Math.floor(key(i) * 100)]! += 1;
      expect(chiSquare(bins), name).toBeLessThan(CHI2_99_999);
    }
  });

  it('gives neighbouring offsets independent keys (pairs of consecutive keys, 4 x 4 bins)', () => {
    const bins = new Array<number>(16).fill(0);
    for (let i = 0; i < 100_000; i += 2) bins[Math.floor(sampleKey('t', 1, i, 0) * 4) * 4 + Math.floor(sampleKey('t', 1, i + 1, 0) * 4)]! += 1;
    expect(chiSquare(bins)).toBeLessThan(37.7);
  });
});

describe('createSampling', () => {
  it('at a fixed fraction chooses that share, binomially, and the same samples every time', () => {
    const s = createSampling(0.25, () => 0);
    const n = 200_000;
    let chosen = 0;
    for (let i = 0; i < n; i++) if (s.choose('t', i % 6, Math.floor(i / 6), 0)) chosen += 1;
    // Binomial(200,000, 0.25): sd 193.6; 5 sd either side fails about once in 3.5 million.
    expect(Math.abs(chosen - n * 0.25)).toBeLessThan(5 * Math.sqrt(n * 0.25 * 0.75));
    expect(s.seen).toBe(n);
    const again = createSampling(0.25, () => 0);
    for (let i = 0; i < 10_000; i++) expect(again.choose('t', 2, i, 1)).toBe(s.choose('t', 2, i, 1));
  });

  it('chooses at a lower fraction a subset of what it chooses at a higher one', () => {
    const low = createSampling(0.1, () => 0);
    const high = createSampling(0.3, () => 0);
    let lows = 0;
    for (let i = 0; i < 20_000; i++) {
      const l = low.choose('t', 0, i, 0);
      if (l) lows += 1;
      if (l) expect(high.choose('t', 0, i, 0)).toBe(true);
    }
    expect(lows).toBeGreaterThan(1_500);
  });

  it('at 1 chooses every sample', () => {
    const s = createSampling(1, () => 0);
    for (let i = 0; i < 1000; i++) expect(s.choose('t', 0, i, 0)).toBe(true);
  });
});

describe('AutoFraction', () => {
  /**
   * A daemon in closed loop, one step a second: it reads what its time allows, at most what the
   * log holds, and scores the chosen share. Scoring costs 1/capacity s a sample, reading
   * `readCost` s a sample; the producer writes `traffic` samples a second.
   */
  function simulate(o: { capacity: number; traffic: (t: number) => number; readCost: number; seconds: number }) {
    let clock = 0;
    const auto = new AutoFraction({ now: () => clock });
    let lag = 0;
    let seen = 0;
    let maxLag = 0;
    const trace: { t: number; fraction: number; lag: number; scored: number }[] = [];
    for (let t = 1; t <= o.seconds; t++) {
      lag += o.traffic(t);
      const f = auto.fraction;
      // per sample read: readCost + f / capacity seconds
      const read = Math.min(lag, Math.floor(1 / (o.readCost + f / o.capacity)));
      const scored = Math.round(read * f);
      lag -= read;
      seen += read;
      if (scored > 0) auto.scored(scored, (scored / o.capacity) * 1000);
      clock = t * 1000;
      auto.tick(seen, lag);
      maxLag = Math.max(maxLag, lag);
      trace.push({ t, fraction: auto.fraction, lag, scored });
    }
    return { trace, maxLag, auto };
  }

  it('keeps every sample while the model keeps up', () => {
    const { trace, maxLag } = simulate({ capacity: 10_000, traffic: () => 5_000, readCost: 5e-6, seconds: 120 });
    expect(trace.every((s) => s.fraction === 1)).toBe(true);
    expect(maxLag).toBe(0);
  });

  it('under 3x overload bounds the lag and scores near capacity; back to 1 when the traffic falls', () => {
    const capacity = 10_000;
    const traffic = (t: number): number => (t <= 600 ? 3 * capacity : capacity / 2);
    const { trace, maxLag } = simulate({ capacity, traffic, readCost: 2e-6, seconds: 900 });
    // bounded: the lag of the last 5 minutes of overload is no more than that of its first minute
    const early = Math.max(...trace.slice(0, 60).map((s) => s.lag));
    const late = Math.max(...trace.slice(300, 600).map((s) => s.lag));
    expect(late).toBeLessThanOrEqual(early);
    expect(maxLag).toBeLessThan(60 * 3 * capacity);
    const steady = trace.slice(300, 600);
    const scored = steady.reduce((a, s) => a + s.scored, 0) / steady.length;
    expect(scored).toBeGreaterThan(0.85 * capacity);
    expect(scored).toBeLessThanOrEqual(capacity);
    const f = steady[steady.length - 1]!.fraction;
    expect(f).toBeGreaterThan(0.25);
    expect(f).toBeLessThan(0.34);
    // the traffic halves: the fraction returns to 1 and the backlog is gone
    expect(trace[trace.length - 1]!.fraction).toBe(1);
    expect(trace[trace.length - 1]!.lag).toBe(0);
  });

  it('follows traffic that keeps rising: the lag stays bounded, the model busy', () => {
    const capacity = 10_000;
    // 1.5x capacity, rising to 4x over five minutes
    const traffic = (t: number): number => capacity * (1.5 + (2.5 * Math.min(t, 300)) / 300);
    const { trace } = simulate({ capacity, traffic, readCost: 2e-6, seconds: 600 });
    const rising = Math.max(...trace.slice(60, 300).map((s) => s.lag));
    const after = Math.max(...trace.slice(360, 600).map((s) => s.lag));
    // lag while the traffic rose: under 10 s of traffic; once it is steady, under 2 s (reading
    // 4x capacity takes a share of the time, which the lag term takes from the fraction) and not growing
    expect(rising).toBeLessThan(10 * 4 * capacity);
    expect(after).toBeLessThan(2 * 4 * capacity);
    expect(Math.max(...trace.slice(540, 600).map((s) => s.lag))).toBeLessThanOrEqual(Math.max(...trace.slice(360, 420).map((s) => s.lag)) + 10_000);
    const steady = trace.slice(360, 600);
    expect(steady.reduce((a, s) => a + s.scored, 0) / steady.length).toBeGreaterThan(0.85 * capacity);
  });

  it('stays at 1 until a capacity is measured', () => {
    let clock = 0;
    const auto = new AutoFraction({ now: () => clock });
    clock = 1000;
    expect(auto.tick(50_000, 1_000_000)).toBe(1);
    auto.scored(64, 10); // under 100 ms of scoring: not yet an estimate
    clock = 2000;
    expect(auto.tick(100_000, 1_000_000)).toBe(1);
  });
});
