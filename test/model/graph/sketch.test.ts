import { describe, expect, it } from 'vitest';
import { countSketch } from '../../../src/model/graph/reference-graph.js';
import { normals } from '../../helpers/linalg.js';

/** The sketch as the graph applies it: feature j times its sign, into bucket j mod k. */
function apply(x: Float64Array, s: ReturnType<typeof countSketch>): Float64Array {
  const out = new Float64Array(s.width);
  for (let j = 0; j < s.dims; j++) out[j % s.width]! += s.signs[j]! * x[j]!;
  return out;
}

const dot = (a: Float64Array, b: Float64Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);

describe('CountSketch with balanced buckets', () => {
  it('gives every feature a sign of ±1, the same for the same seed, others for another', () => {
    const s = countSketch(50, 8, 3);
    expect(s.signs.length).toBe(50);
    expect([...s.signs].every((v) => v === 1 || v === -1)).toBe(true);
    expect(Math.abs(s.signs.reduce((a, b) => a + b, 0))).toBeLessThan(25);
    expect(countSketch(50, 8, 3)).toEqual(s);
    expect(countSketch(50, 8, 4).signs).not.toEqual(s.signs);
  });

  it('keeps inner products unbiased: the mean over sketches converges to the exact one', () => {
    const d = 40;
    const x = normals(1, d);
    const y = normals(2, d).map((v, i) => v + 0.5 * x[i]!);
    const exact = dot(x, y);
    const trials = 4000;
    let sum = 0;
    let squares = 0;
    for (let t = 0; t < trials; t++) {
      const s = countSketch(d, 8, 1000 + t);
      const v = dot(apply(x, s), apply(y, s));
      sum += v;
      squares += v * v;
    }
    const mean = sum / trials;
    const sd = Math.sqrt(squares / trials - mean * mean);
    // Within 4 standard errors of the exact value; the sketch's own spread is not 0.
    expect(Math.abs(mean - exact)).toBeLessThan((4 * sd) / Math.sqrt(trials));
    expect(sd).toBeGreaterThan(0);
  });
});
