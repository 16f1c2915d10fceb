/**
 * "Did you mean" for unknown config keys: the closest known key, if it is close
 * enough to be a typo (edit distance at most a third of its length) or differs only
 * in case, underscores or dashes ("group_id" for "groupId").
 */

import { editDistance } from '../util/edit-distance.js';


const normalise = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');

export function closestKey(unknown: string, known: readonly string[]): string | undefined {
  if (unknown.length > 64) return undefined;
  const same = known.find((k) => normalise(k) === normalise(unknown));
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(unknown.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(Math.max(unknown.length, best.length) / 3)) ? best : undefined;
}
