/** Suggestions for a mistyped layer name, so that the error can say "did you mean". */

import { editDistance } from '../../util/edit-distance.js';

/**
 * Up to `max` candidates, case-insensitively: those containing the name (or contained
 * in it) when there are any, the shortest first; else those within a small edit distance.
 * Exported ONNX names are long paths ('/layer1/layer1.0/relu/Relu_output_0'), so a
 * fragment of one is the common mistake.
 */
export function closeMatches(name: string, candidates: readonly string[], max = 5): string[] {
  const lower = name.toLowerCase();
  const containing = candidates.filter((c) => {
    const l = c.toLowerCase();
    return l.includes(lower) || (l.length >= 3 && lower.includes(l));
  });
  if (containing.length > 0) {
    return [...containing].sort((a, b) => Math.abs(a.length - name.length) - Math.abs(b.length - name.length)).slice(0, max);
  }
  const limit = Math.max(2, Math.floor(lower.length / 3));
  return candidates
    .map((candidate) => ({ candidate, distance: editDistance(lower, candidate.toLowerCase()) }))
    .filter((s) => s.distance <= limit)
    .sort((a, b) => a.distance - b.distance)
    .slice(0, max)
    .map((s) => s.candidate);
}

