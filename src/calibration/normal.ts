/**
 * The standard normal upper tail 1 - Φ(z), through erfc (Numerical Recipes' Chebyshev fit,
 * fractional error below 1.2e-7 everywhere): accurate far into the tail, where 1 - Φ(z)
 * computed as a difference would be 0.
 */
export function normalTail(z: number): number {
  const x = z / Math.SQRT2;
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const e =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851973 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? e / 2 : 1 - e / 2;
}
