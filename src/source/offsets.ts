/**
 * Per-partition "next offset whose contribution is in the state". Offsets are kept as
 * numbers: Kafka's are int64 but stay far below 2^53 in practice; a larger one is refused
 * loudly rather than rounded.
 */
export type OffsetMap = Record<string, Record<string, number>>;

export function toOffset(raw: string): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`Kafka offset ${raw} is outside the safe integer range`);
  return value;
}

export function nextOffset(map: OffsetMap, topic: string, partition: number): number | undefined {
  return map[topic]?.[String(partition)];
}

export function advance(map: OffsetMap, topic: string, partition: number, offset: number): void {
  const forTopic = (map[topic] ??= {});
  const key = String(partition);
  if ((forTopic[key] ?? -1) < offset + 1) forTopic[key] = offset + 1;
}

export function cloneOffsets(map: OffsetMap): OffsetMap {
  return Object.fromEntries(Object.entries(map).map(([t, p]) => [t, { ...p }]));
}
