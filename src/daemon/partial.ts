/**
 * Records of several samples (a serving request's tensor [B, ...]) that a batch split: how
 * many leading samples of a partition's next record the state holds already.
 *
 *   record at offset o: [s1 s2 s3 | s4 s5]     batch k applies s1-s3, batch k+1 s4-s5
 *   state after k:      offsets resume at o, partial { o, applied: 3 }
 *   restart from it:    record o is read again, s1-s3 dropped, s4-s5 queued: each sample once
 *
 * The offset moves only when a record's last sample is applied (pipeline.ts), so without this
 * a restart between k and k+1 would count s1-s3 twice; with it, a split record is exactly once
 * like every other. Held in the checkpoint with the offsets it qualifies.
 */

/** topic -> partition -> the partition's next record (its offset) and how many of its samples are applied. */
export type PartialRecords = Record<string, Record<string, { readonly offset: number; readonly applied: number }>>;

export class PartialTracker {
  readonly #map: Record<string, Record<string, { offset: number; applied: number }>>;

  constructor(restored?: PartialRecords) {
    this.#map = structuredClone(restored ?? {}) as Record<string, Record<string, { offset: number; applied: number }>>;
  }

  /** One sample of the record at `offset` applied; `more`: not its last, so the record stays partial. */
  applied(topic: string, partition: number, offset: number, more: boolean): void {
    const byPartition = (this.#map[topic] ??= {});
    const key = String(partition);
    if (!more) {
      delete byPartition[key];
      return;
    }
    const current = byPartition[key];
    byPartition[key] = { offset, applied: current?.offset === offset ? current.applied + 1 : 1 };
  }

  /** Leading samples of the record at `offset` that the state holds already (0 for any other record). */
  held(topic: string, partition: number, offset: number): number {
    const entry = this.#map[topic]?.[String(partition)];
    return entry?.offset === offset ? entry.applied : 0;
  }

  /** The partition's log was reset (resetIfAhead): its records are new. */
  forget(topic: string, partition: number): void {
    delete this.#map[topic]?.[String(partition)];
  }

  /** A copy, without empty topics; undefined when no record is partial. */
  snapshot(): PartialRecords | undefined {
    const out: PartialRecords = {};
    for (const [topic, byPartition] of Object.entries(this.#map)) if (Object.keys(byPartition).length > 0) out[topic] = structuredClone(byPartition);
    return Object.keys(out).length > 0 ? out : undefined;
  }
}
