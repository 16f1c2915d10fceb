import { witnessOf } from '../cka/witness.js';
import { sniffImage } from '../decode/image/image.js';
import type { SamplesDecoder } from '../decode/types.js';
import type { RouteResponse } from '../http/routes.js';
import type { MissingRow, WitnessRow } from '../page/witnesses.js';
import { tensorThumbnail } from '../plot/thumbnail.js';
import type { WindowSpec } from '../window/spec.js';
import { TopKWindows, type Ranked } from '../window/top-k.js';
import type { SampleOrigin, ScoredBatch } from './pipeline-deps.js';

/*
 * The samples behind an alarm: per window and layer, the k production samples most unlike
 * the reference, with their Kafka coordinates; and the k reference samples least like
 * production (the lowest witness: what went missing, such as a class that stopped coming).
 *
 *   batch applied ─▶ per layer: witnessOf(kernel row sums driftBatch filled) ─▶ novelty + witness per row ─▶ top k per window bucket
 *   GET /api/witnesses?window=&layer= ─▶ the live buckets' top k merged, best first
 *
 * Ranked by novelty (1 - the RBF kernel to the nearest of the batch's reference rows),
 * not by the MMD witness itself: a witness leans on the row's batch, so a kind of sample that makes 5% of
 * the traffic finds 2-3 of its kind per batch and barely stands out of the noise (see
 * cka/witness.ts); the witness is reported beside it. Both use the layer's RBF bandwidth,
 * the one its MMD² uses. Nothing here is checkpointed: after a restart the lists refill
 * with the traffic, and a new reference empties them (their scores were against the old).
 */

export interface WitnessOptions {
  /** samples kept per window, layer and bucket */
  readonly k: number;
  /** message bytes kept with each (0: coordinates only); longer messages keep none */
  readonly keepBytes: number;
  readonly windows: readonly WindowSpec[];
  readonly layers: readonly string[];
}

/** What a top-k list holds of a sample: its row of the API, less the ranking, and its bytes if kept. */
type Kept = Omit<WitnessRow, 'rank' | 'novelty' | 'kept'> & { readonly bytes: Uint8Array | null };

const KEY_CHARS = 200;

export class Witnesses {
  readonly #o: WitnessOptions;
  readonly #top: TopKWindows<Kept>;
  readonly #missing: TopKWindows<number>;

  constructor(o: WitnessOptions) {
    this.#o = o;
    this.#top = new TopKWindows<Kept>(o.windows, o.layers, o.k);
    // A reference sample is drawn into many batches: room for repeats, merged at read.
    this.#missing = new TopKWindows<number>(o.windows, o.layers, 4 * o.k);
  }

  get windows(): readonly string[] {
    return this.#top.windows.map((w) => w.name);
  }

  get layers(): readonly string[] {
    return this.#o.layers;
  }

  /** The pipeline's onScored: rank a scored batch's rows in every layer. */
  observe(batch: ScoredBatch): void {
    // Built only for rows that can enter a list (top-k's floor): once the buckets are full,
    // most rows of most batches cannot, and cost no object, copy or sort.
    const kept: (Omit<Kept, 'witness'> | undefined)[] = [];
    const keep = (i: number): Omit<Kept, 'witness'> => (kept[i] ??= this.#keep(batch.samples[i]!));
    batch.kernels.forEach((kernels, l) => {
      if (kernels === null) return; // the layer's sums failed, and said so
      const layer = this.#o.layers[l]!;
      const w = witnessOf(kernels, batch.n);
      const floor = this.#top.floor(layer, batch.at);
      const ranked: Ranked<Kept>[] = [];
      w.novelty.forEach((score, i) => score > floor && ranked.push({ score, item: { ...keep(i), witness: w.production[i]! } }));
      this.#top.add(layer, ranked, batch.at);
      const missingFloor = this.#missing.floor(layer, batch.at);
      const missing: Ranked<number>[] = [];
      w.reference.forEach((witness, a) => -witness > missingFloor && missing.push({ score: -witness, item: batch.referenceIndices[a]! }));
      this.#missing.add(layer, missing, batch.at);
    });
  }

  list(window: string, layer: string, now: number): WitnessRow[] {
    return this.#top.top(window, layer, now).map(({ score, item }, i) => ({
      rank: i + 1,
      novelty: score,
      witness: item.witness,
      topic: item.topic,
      partition: item.partition,
      offset: item.offset,
      sample: item.sample,
      key: item.key,
      timestamp: item.timestamp,
      kept: item.bytes !== null,
    }));
  }

  /**
   * The reference samples least like production, lowest witness first; a sample drawn into
   * several batches counts once, with its lowest.
   */
  missing(window: string, layer: string, now: number): MissingRow[] {
    const seen = new Set<number>();
    const rows: MissingRow[] = [];
    for (const { score, item } of this.#missing.top(window, layer, now)) {
      if (seen.has(item) || rows.length === this.#o.k) continue;
      seen.add(item);
      rows.push({ rank: rows.length + 1, index: item, witness: -score });
    }
    return rows;
  }

  /** The kept bytes of the message of the sample at `rank` (from 1), and the sample's place in it; null without them. */
  bytes(window: string, layer: string, rank: number, now: number): { bytes: Uint8Array; sample: number } | null {
    const item = this.#top.top(window, layer, now)[rank - 1]?.item;
    return item?.bytes ? { bytes: item.bytes, sample: item.sample } : null;
  }

  clear(): void {
    this.#top.clear();
    this.#missing.clear();
  }

  /** Every window and layer's lists at `now`, for witnesses.topic: coordinates and scores, never bytes. */
  report(now: number): { key: string; value: string }[] {
    return this.windows.flatMap((window) =>
      this.layers.map((layer) => ({
        key: `${window}/${layer}`,
        value: JSON.stringify({ window, layer, at: now, samples: this.list(window, layer, now), missing: this.missing(window, layer, now) }),
      })),
    );
  }

  #keep({ record: r, index }: SampleOrigin): Omit<Kept, 'witness'> {
    const value = r.value;
    return {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      sample: index,
      key: r.key ? keyText(r.key) : null,
      timestamp: r.timestamp !== undefined && Number.isFinite(r.timestamp) ? r.timestamp : null,
      // A copy: the record's bytes are a view into a whole fetched response.
      bytes: value !== null && value.length <= this.#o.keepBytes ? Uint8Array.from(value) : null,
    };
  }
}

/** A key as text when it is UTF-8, else base64; cut to KEY_CHARS. */
function keyText(key: Uint8Array): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(key);
  } catch {
    text = `base64:${Buffer.from(key).toString('base64')}`;
  }
  return text.length > KEY_CHARS ? `${text.slice(0, KEY_CHARS)}…` : text;
}

/**
 * A kept message as the page shows it: image bytes as they are; a tensor that is an image
 * as a PNG (plot/thumbnail.ts); text as text; anything else as its first values in JSON.
 */
export async function viewSample(
  kept: { readonly bytes: Uint8Array; readonly sample: number },
  o: { readonly encoding: string; readonly decode: SamplesDecoder | null; readonly sampleShape: readonly number[] },
): Promise<RouteResponse> {
  const { bytes, sample } = kept;
  const image = sniffImage(bytes);
  if (image) return { contentType: `image/${image}`, body: bytes };
  if (o.encoding === 'text') return { contentType: 'text/plain; charset=utf-8', body: new TextDecoder().decode(bytes) };
  const decoded = o.decode?.(bytes);
  if (!decoded?.ok) return { contentType: 'application/octet-stream', body: bytes };
  // A serving request holds several samples: the one at its place.
  const values = decoded.value instanceof Float32Array ? decoded.value : decoded.value[sample];
  if (values === undefined) return { contentType: 'application/octet-stream', body: bytes };
  return viewTensor(values, o.sampleShape);
}

/** A model input: a PNG when it is an image, else its shape and first 64 values as JSON. */
export async function viewTensor(values: Float32Array, sampleShape: readonly number[]): Promise<RouteResponse> {
  const png = await tensorThumbnail(values, sampleShape);
  if (png) return { contentType: 'image/png', body: png };
  return { contentType: 'application/json', body: `${JSON.stringify({ shape: sampleShape, first: Array.from(values.subarray(0, 64)) })}\n` };
}
