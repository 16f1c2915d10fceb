/**
 * Daemons fed by the real broker, scraped by a real Prometheus that loads
 * deploy/recording-rules.yaml:
 *
 *   topic (2 partitions) ─┬─ group G: replica A (partition 0) ─┐
 *                         │           replica B (partition 1) ─┼─▶ prometheus ─▶ ckawatch:*:combined{job="replicas"}
 *                         └─ group S: single (both partitions) ─┘                 ckawatch:*:combined{job="single"}
 *
 * 1. Sharding over replicas loses nothing and counts nothing twice, and the recording rules
 *    turn the replicas' sums into exactly the score one daemon computes on the same data.
 *
 *    Exact equality needs every batch to be the same batch with the same reference draws
 *    on both sides. Batches: they never straddle partitions (partition 0 is produced and
 *    consumed by everyone before partition 1 gets its messages, each holds whole batches,
 *    and batch.maxWait is a day so no partial batch is flushed), so the single daemon's
 *    batches are A's followed by B's, sample for sample. Draws: each daemon draws the m
 *    reference samples of its k-th batch from its own seeded stream (same seed, same
 *    start-up draws everywhere), so the single daemon's batches K0+1.. (partition 1) use
 *    draws K0+1.., while B's first batches would use draws 1... To line B's stream up, B
 *    first consumes K0 warm-up batches on partition 1, which the single daemon skips (its
 *    group's offsets are set past them) and which are subtracted from B's sums (read from
 *    B's /metrics right after the warm-up; the sums are additive). Then every batch
 *    contribution is the same on both sides, and
 *        combined(replicas) - warm-up == single      for every sum, and so for every score,
 *    up to float64 summation order (and float32 nondeterminism in onnxruntime, if any).
 *    Without the warm-up, B's draws would differ from the single daemon's and the two would
 *    agree only in distribution (see docs/deploy.md, "Replicas and the recording rules").
 * 2. Every query of the dashboard, with its variables substituted, returns data.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDrift, driftScores, type DriftSums } from '../../src/cka/drift.js';
import { DaemonProcess, describeExit, editConfig, killAll, writeDaemonConfig } from '../helpers/daemon.js';
import { useTempDir } from '../helpers/files.js';
import { heldOutDigits, rawMessage, writeReference } from '../helpers/digits.js';
import { freshTopic, produce, requireBroker, uniqueName, waitFor, withAdmin } from '../helpers/kafka.js';
import { samplesOf } from '../helpers/metrics.js';
import { select, sumOf, valueOf, type PromSample } from '../helpers/prom-text.js';
import { labelValuesQuery, loadDashboard, substitute, targetsOf } from './dashboard.js';
import { TestPrometheus, type Series } from './prometheus.js';
import { ROOT } from './tools.js';

const LAYERS = ['/pool1/MaxPool_output_0', '/relu3/Relu_output_0', 'logits'];
const BATCH = 32;
const REFERENCE = 512;
const M = 64; // reference samples per batch
const N0 = 8 * BATCH; // partition 0
const N1 = 6 * BATCH; // partition 1 (another count, to tell the replicas apart)
const WARMUP = N0; // partition 1, before: B's reference stream then lines up with the single daemon's
const BAD = 3; // undecodable messages in partition 0, for the rejections panel
const WINDOW = 'all'; // test/helpers/daemon.ts: one window of an hour
/** ckawatch_window_sum's field label for each DriftSums field */
const FIELDS = { batches: 'batches', samples: 'samples', axr: 'axr', axx: 'axx', arr: 'arr', mmdLinear: 'mmd_linear', mmdRbf: 'mmd_rbf', ckaWeight: 'cka_weight', mmdWeight: 'mmd_weight' } as const;

const tmp = useTempDir('ckawatch-ops-');
let prometheus: TestPrometheus | undefined;
let a: DaemonProcess; // partition 0
let b: DaemonProcess; // partition 1
let single: DaemonProcess;
let warmup: Map<string, DriftSums>; // B's sums per layer after the warm-up
let topic: string;
let scrapedFrom: number;

function config(group: string, instanceId: string, referencePath: string): string {
  const path = writeDaemonConfig(mkdtempSync(tmp.path(`${instanceId}-`)), {
    topic,
    groupId: group,
    referencePath,
    batchSize: BATCH,
    referencePerBatch: M,
    maxWait: '1d',
    threads: 1,
    instanceId,
    // info (the default): DaemonProcess reads the metrics URL from the "serving /metrics" line
  });
  // Three layers and a short calibration keep it quick.
  editConfig(path, (c) => {
    c['model']!['layers'] = LAYERS;
    c['calibration'] = { batches: 32 };
  });
  return path;
}

/** Waits for /readyz 200 from every daemon; a daemon that exits meanwhile fails at once, with its log. */
async function allReady(daemons: readonly DaemonProcess[], timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const ready = async (d: DaemonProcess): Promise<boolean> => {
    if (d.exit) throw new Error(`a daemon exited (${describeExit(d.exit)}) before it was ready\n${d.logTail()}`);
    const response = await fetch(`${d.url}/readyz`, { signal: AbortSignal.timeout(2_000) }).catch(() => null);
    return response?.status === 200;
  };
  while (!(await Promise.all(daemons.map(ready))).every(Boolean)) {
    if (Date.now() > deadline) throw new Error(`not all daemons ready (/readyz 200) within ${timeoutMs} ms\n${daemons.map((d) => d.logTail(10)).join('\n')}`);
    await sleep(250);
  }
}

/** The group's members and their partitions of `topic`, once it is stable. */
async function assignments(groupId: string): Promise<number[][] | null> {
  const { groups } = await withAdmin((admin) => admin.describeGroups([groupId]));
  const group = groups[0];
  if (group?.state !== 'Stable') return null;
  return group.members.map((m) => kafkajs.AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? []);
}

async function waitForSamples(d: DaemonProcess, count: number, what: string): Promise<PromSample[]> {
  return d.waitForMetrics((s) => samplesOf(s) === count, `${what}: ${count} samples`, { timeoutMs: 60_000, show: samplesOf });
}

/** One layer's window sums from a scrape. */
function sumsOf(scrape: PromSample[], layer: string): DriftSums {
  const entries = Object.entries(FIELDS).map(([key, field]) => [key, valueOf(scrape, 'ckawatch_window_sum', { layer, window: WINDOW, field }) ?? 0]);
  return Object.fromEntries(entries) as unknown as DriftSums;
}

/** Waits until A, B and the single daemon have counted these samples, and Prometheus has scraped that. */
async function consumed(counts: { a: number; b: number; single: number }, what: string): Promise<void> {
  await waitForSamples(single, counts.single, `single daemon after ${what}`);
  await waitForSamples(a, counts.a, `replica A after ${what}`);
  await waitForSamples(b, counts.b, `replica B after ${what}`);
  await prometheus!.waitFor(
    'sum by (job) (ckawatch_samples_total)',
    (s) => s.length === 2 && s.every((x) => x.values[0] === (x.metric['job'] === 'single' ? counts.single : counts.a + counts.b)),
    `Prometheus to scrape ${JSON.stringify(counts)} samples`,
  );
}

function one(series: Series[], labels: Record<string, string>): number {
  const found = series.filter((s) => Object.entries(labels).every(([k, v]) => s.metric[k] === v));
  if (found.length !== 1) throw new Error(`expected one series with ${JSON.stringify(labels)}, found ${found.length}: ${JSON.stringify(series).slice(0, 800)}`);
  return found[0]!.values[0]!;
}

const close = (x: number, y: number, relative: number): boolean => Math.abs(x - y) <= relative * Math.max(1, Math.abs(x), Math.abs(y));

describe('replicas, recording rules and the dashboard through a real Prometheus', () => {
  beforeAll(async () => {
    await requireBroker();
    topic = await freshTopic('ckawatch-ops', 2);
    const referencePath = writeReference(tmp.dir, REFERENCE);
    const images = heldOutDigits(WARMUP + N0 + N1).map(rawMessage);

    // The replicas, stable with one partition each before anything is produced: a rebalance
    // after consumption started would move a partition with state still in the old owner.
    const group = uniqueName('ckawatch-ops-replicas');
    const replicas = await Promise.all(['replica-1', 'replica-2'].map((id) => DaemonProcess.start(config(group, id, referencePath), { timeoutMs: 60_000 })));
    await allReady(replicas);
    await waitFor(async () => {
      const parts = await assignments(group);
      return parts !== null && parts.length === 2 && parts.every((p) => p.length === 1);
    }, 60_000, 'the replicas group stable, one partition per member', 500);

    // Warm-up on partition 1: its owner is B. Its sums now are what to subtract later.
    await produce(topic, images.slice(0, WARMUP).map((value) => ({ value, partition: 1 })), 100);
    await waitFor(async () => (await Promise.all(replicas.map((r) => r.scrape()))).reduce((n, s) => n + samplesOf(s), 0) === WARMUP, 60_000, 'the warm-up consumed', 250);
    const counts = await Promise.all(replicas.map(async (r) => samplesOf(await r.scrape())));
    [b, a] = counts[0] === WARMUP ? [replicas[0]!, replicas[1]!] : [replicas[1]!, replicas[0]!];
    const afterWarmup = await b.scrape();
    warmup = new Map(LAYERS.map((layer) => [layer, sumsOf(afterWarmup, layer)]));

    // The single daemon, in its own group whose offsets start after the warm-up.
    const singleGroup = uniqueName('ckawatch-ops-single');
    await withAdmin((admin) =>
      admin.setOffsets({ groupId: singleGroup, topic, partitions: [{ partition: 0, offset: '0' }, { partition: 1, offset: String(WARMUP) }] }),
    );
    single = await DaemonProcess.start(config(singleGroup, 'single', referencePath), { timeoutMs: 60_000 });
    await allReady([single]);

    // Prometheus, with two scrapes of every daemon before the compared data: rate() then
    // sees the counters rise.
    const hostPort = (d: DaemonProcess): string => new URL(d.url).host;
    prometheus = await TestPrometheus.start({
      jobs: { replicas: [a, b].map(hostPort), single: [hostPort(single)] },
      ruleFiles: [join(ROOT, 'deploy/recording-rules.yaml')],
    });
    scrapedFrom = Date.now();
    await prometheus.waitFor('count(count_over_time(up[1m]) >= 2)', (s) => s[0]?.values[0] === 3, 'two scrapes of each daemon');

    // Phase 1: partition 0 only (with a few undecodable messages among the samples).
    const first = images.slice(WARMUP, WARMUP + N0).map((value) => ({ value, partition: 0 }));
    for (let k = 0; k < BAD; k++) first.splice(50 * (k + 1), 0, { value: Buffer.from('not a float32 image'), partition: 0 });
    await produce(topic, first, 100);
    await consumed({ a: N0, b: WARMUP, single: N0 }, 'partition 0');
    // Phase 2: partition 1, once everyone has all of partition 0.
    await produce(topic, images.slice(WARMUP + N0).map((value) => ({ value, partition: 1 })), 100);
    await consumed({ a: N0, b: WARMUP + N1, single: N0 + N1 }, 'partition 1');
  }, 300_000);

  afterAll(async () => {
    const daemons = [a, b, single].filter((d): d is DaemonProcess => d !== undefined);
    await Promise.all(daemons.map((d) => d.stop().catch(() => d.kill('SIGKILL'))));
    await killAll();
    await prometheus?.stop();
  }, 60_000);

  it('both replicas consume, each a whole partition, every sample counted once', async () => {
    const [sa, sb, ss] = await Promise.all([a.scrape(), b.scrape(), single.scrape()]);
    expect([samplesOf(sa), samplesOf(sb), samplesOf(ss)]).toEqual([N0, WARMUP + N1, N0 + N1]);
    // Rejections are counted by reason, by whoever reads partition 0.
    expect([sumOf(sa, 'ckawatch_rejected_total'), sumOf(sb, 'ckawatch_rejected_total'), sumOf(ss, 'ckawatch_rejected_total')]).toEqual([BAD, 0, BAD]);
    expect(select(sa, 'ckawatch_rejected_total').map((s) => s.labels['reason'])).toHaveLength(1);
    // Through Prometheus: the group's samples per layer and window.
    const combined = await prometheus!.waitFor(
      `ckawatch:window_samples:combined{window="${WINDOW}"}`,
      (s) => s.length === 2 * LAYERS.length && s.every((x) => x.values[0] === (x.metric['job'] === 'single' ? N0 + N1 : WARMUP + N0 + N1)),
      'combined window samples of both jobs',
    );
    expect(combined).toHaveLength(2 * LAYERS.length);
  });

  it('the recording rules sum exactly what the replicas export', async () => {
    const scrapes = await Promise.all([a.scrape(), b.scrape()]);
    const sums = await prometheus!.query(`ckawatch:window_sum:combined{job="replicas", window="${WINDOW}"}`);
    expect(sums).toHaveLength(LAYERS.length * Object.keys(FIELDS).length);
    for (const s of sums) {
      const labels = { layer: s.metric['layer']!, window: WINDOW, field: s.metric['field']! };
      const direct = scrapes.reduce((total, scrape) => total + (valueOf(scrape, 'ckawatch_window_sum', labels) ?? 0), 0);
      expect(close(s.values[0]!, direct, 1e-12), `${JSON.stringify(labels)}: ${s.values[0]} vs ${direct}`).toBe(true);
    }
    // and the combined score is the ratio of those sums (not a mean of the replicas' scores)
    const cka = await prometheus!.query(`ckawatch:cka:combined{job="replicas", window="${WINDOW}"}`);
    for (const layer of LAYERS) {
      const total = scrapes.map((s) => sumsOf(s, layer)).reduce(addDrift);
      expect(close(one(cka, { layer }), driftScores(total).cka!, 1e-12), layer).toBe(true);
    }
  });

  it("the replicas' combined sums and scores equal one daemon's on the same batches, to 1e-6", async () => {
    const report: string[] = [];
    const fromRules = async (job: string): Promise<Map<string, DriftSums>> => {
      const series = await prometheus!.query(`ckawatch:window_sum:combined{job="${job}", window="${WINDOW}"}`);
      return new Map(
        LAYERS.map((layer) => [layer, Object.fromEntries(Object.entries(FIELDS).map(([key, field]) => [key, one(series, { layer, field })])) as unknown as DriftSums]),
      );
    };
    const replicas = await fromRules('replicas');
    const alone = await fromRules('single');
    const singleScores = await single.scrape();
    let worst = 0;
    for (const layer of LAYERS) {
      const combined = subtractDrift(replicas.get(layer)!, warmup.get(layer)!);
      const own = alone.get(layer)!;
      for (const key of Object.keys(FIELDS) as (keyof DriftSums)[]) {
        const diff = Math.abs(combined[key] - own[key]) / Math.max(1, Math.abs(own[key]));
        worst = Math.max(worst, diff);
        expect(diff, `${layer} ${key}: replicas - warm-up ${combined[key]} vs single ${own[key]}`).toBeLessThanOrEqual(1e-6);
      }
      const x = driftScores(combined);
      const y = driftScores(own);
      // The rules over one daemon give that daemon's own scores back.
      expect(close(y.cka!, valueOf(singleScores, 'ckawatch_cka', { layer, window: WINDOW })!, 1e-12)).toBe(true);
      expect(close(y.mmd2Rbf!, valueOf(singleScores, 'ckawatch_mmd2', { layer, window: WINDOW, kernel: 'rbf' })!, 1e-12)).toBe(true);
      for (const k of ['cka', 'mmd2Linear', 'mmd2Rbf'] as const) {
        const diff = Math.abs(x[k]! - y[k]!) / Math.max(1, Math.abs(y[k]!));
        worst = Math.max(worst, diff);
        report.push(`${layer} ${k}: replicas ${x[k]} single ${y[k]} (relative difference ${diff.toExponential(1)})`);
        expect(diff, `${layer} ${k}`).toBeLessThanOrEqual(1e-6);
      }
    }
    // And the combining is what makes them equal: a replica's own score is far off.
    const own = await a.scrape();
    const spread = Math.max(...LAYERS.map((layer) => Math.abs(valueOf(own, 'ckawatch_cka', { layer, window: WINDOW })! - valueOf(singleScores, 'ckawatch_cka', { layer, window: WINDOW })!)));
    report.push(`worst relative difference ${worst.toExponential(1)}; |replica A's own cka - single's| up to ${spread.toExponential(1)}`);
    expect(spread).toBeGreaterThan(1e-4);
    console.log(`[replica equality]\n${report.join('\n')}`);
  });

  it('answers every dashboard query, with its variables substituted, with data', async () => {
    const dashboard = loadDashboard();
    const values = { job: 'replicas', window: WINDOW, layer: '.*', datasource: 'prometheus' };
    // The variables' own queries list what the panels will be asked for.
    const expected: Record<string, string> = { job: 'replicas', window: WINDOW, layer: LAYERS[0]! };
    for (const v of dashboard.templating.list) {
      const q = labelValuesQuery(v);
      if (!q) continue;
      const found = await prometheus!.labelValues(q.label, substitute(q.selector, values));
      expect(found, `variable ${v.name}: label_values(${q.selector}, ${q.label})`).toContain(expected[v.name]);
    }
    // A rate() over 20 s needs two scrapes of its counter inside those 20 s. On a loaded
    // machine a scrape can be late or lost, so "two scrapes in the last minute" did not
    // imply it (a CI rehearsal saw the rejected counter's rate come back empty). So each
    // query is asked again until it returns data (the condition itself), with one generous
    // deadline for all of them; only what still has no data then fails.
    const deadline = Date.now() + 120_000;
    const failures: string[] = [];
    for (const t of targetsOf(dashboard)) {
      const expr = substitute(t.expr, values);
      let problem: string | null;
      for (;;) {
        const series = t.instant ? await prometheus!.query(expr) : await prometheus!.queryRange(expr, scrapedFrom, Date.now(), 1);
        problem = series.length === 0 ? 'no series' : series.some((s) => s.values.some(Number.isFinite)) ? null : 'no finite value';
        if (problem === null || Date.now() > deadline) break;
        await sleep(1_000);
      }
      if (problem !== null) failures.push(`${t.panel} [${t.refId}]: ${problem}: ${expr}`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
  });
});

function subtractDrift(x: DriftSums, y: DriftSums): DriftSums {
  return Object.fromEntries(Object.keys(FIELDS).map((k) => [k, x[k as keyof DriftSums] - y[k as keyof DriftSums]])) as unknown as DriftSums;
}
