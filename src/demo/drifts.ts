/**
 * Drifts to inject into 28×28 images in [0, 1]: the demo's drifting stream and the
 * validation suite's scenarios. Pure functions of (image, random source).
 */
export type Drift = (image: Float32Array, random: () => number) => Float32Array;

const SIDE = 28;

export const drifts = {
  none: ((image) => image) satisfies Drift,

  /** additive Gaussian noise of standard deviation sigma, clipped to [0, 1] */
  noise:
    (sigma: number): Drift =>
    (image, random) =>
      image.map((v) => {
        const g = Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
        return Math.min(1, Math.max(0, v + sigma * g));
      }),

  /** rotation about the centre by `degrees`, bilinear */
  rotate:
    (degrees: number): Drift =>
    (image) => {
      const out = new Float32Array(image.length);
      const t = (degrees * Math.PI) / 180;
      const c = Math.cos(t);
      const s = Math.sin(t);
      const mid = (SIDE - 1) / 2;
      for (let y = 0; y < SIDE; y++) {
        for (let x = 0; x < SIDE; x++) {
          const sx = c * (x - mid) + s * (y - mid) + mid;
          const sy = -s * (x - mid) + c * (y - mid) + mid;
          out[y * SIDE + x] = bilinear(image, sx, sy);
        }
      }
      return out;
    },

  /** contrast scale around 0.5 then brightness offset, clipped */
  brightness:
    (offset: number, contrast = 1): Drift =>
    (image) =>
      image.map((v) => Math.min(1, Math.max(0, (v - 0.5) * contrast + 0.5 + offset))),

  /** out-of-distribution: negative images (white background) */
  invert: ((image) => image.map((v) => 1 - v)) satisfies Drift,
};

function bilinear(image: Float32Array, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (xx: number, yy: number): number =>
    xx < 0 || yy < 0 || xx >= SIDE || yy >= SIDE ? 0 : image[yy * SIDE + xx]!;
  return (
    at(x0, y0) * (1 - fx) * (1 - fy) + at(x0 + 1, y0) * fx * (1 - fy) + at(x0, y0 + 1) * (1 - fx) * fy + at(x0 + 1, y0 + 1) * fx * fy
  );
}
