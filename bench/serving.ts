/**
 * The serving encodings against raw float32, in one process, on the digits (784 float32s a
 * sample): decode throughput of every encoding ckawatch reads, with requests of 1 and of 8
 * samples, through the same decoder the daemon builds (empty/oversize checks, datatype
 * conversion, finite check), next to digits-cnn's inference with its Gram taps on the same
 * machine. Run from bench/inputs.ts (`--only serving` for this part alone).
 */
import type { Logger } from 'pino';
import { encodeNpy } from '../src/io/npy.js';
import { readNpyFile } from '../src/io/npy-file.js';
import { createMessageDecoder, defaultMaxMessageBytes, type MessageHeaders } from '../src/decode/message.js';
import { encodeInferRequest } from '../src/decode/oip/messages.js';
import type { InputEncoding } from '../src/config/vocabulary.js';
import { TappedModel } from '../src/model/tapped.js';
import { DIGITS_DATA, DIGITS_MODEL } from '../test/helpers/fixtures.js';

type Rate = (count: number, fn: () => unknown) => Promise<number>;
type Report = (what: string, perSecond: number, unit: string) => void;

interface Case {
  readonly what: string;
  readonly encoding: Exclude<InputEncoding, 'image' | 'text'>;
  readonly messages: readonly { value: Uint8Array; headers?: MessageHeaders }[];
  readonly perMessage: number;
}

const SAMPLE_SHAPE = [1, 28, 28];
const CE_HEADERS: MessageHeaders = { 'content-type': 'application/json', ce_type: 'org.kubeflow.serving.inference.request', ce_specversion: '1.0', ce_id: 'x', ce_source: 'bench' };

function cases(digits: readonly Float32Array[]): Case[] {
  const utf8 = new TextEncoder();
  const groups = (b: number): Float32Array[][] => Array.from({ length: digits.length / b }, (_, k) => digits.slice(k * b, (k + 1) * b));
  const raw = (g: readonly Float32Array[]): Uint8Array => {
    const out = new Float32Array(g.length * 784);
    g.forEach((s, i) => out.set(s, i * 784));
    return new Uint8Array(out.buffer);
  };
  const pb = (g: readonly Float32Array[], form: 'raw' | 'contents'): Uint8Array => {
    const shape = [g.length, ...SAMPLE_SHAPE];
    return form === 'raw'
      ? encodeInferRequest({ inputs: [{ name: 'input', datatype: 'FP32', shape }], raw_input_contents: [raw(g)] })
      : encodeInferRequest({ inputs: [{ name: 'input', datatype: 'FP32', shape, contents: { fp32_contents: g.flatMap((s) => Array.from(s)) } }] });
  };
  const v2 = (g: readonly Float32Array[]): Uint8Array => utf8.encode(JSON.stringify({ inputs: [{ name: 'input', shape: [g.length, ...SAMPLE_SHAPE], datatype: 'FP32', data: g.flatMap((s) => Array.from(s)) }] }));
  const v1 = (g: readonly Float32Array[]): Uint8Array => utf8.encode(JSON.stringify({ instances: g.map((s) => Array.from(s)) }));
  const out: Case[] = [
    { what: 'raw-f32 (one sample a message)', encoding: 'raw-f32', messages: groups(1).map((g) => ({ value: raw(g) })), perMessage: 1 },
    { what: 'npy', encoding: 'npy', messages: digits.map((d) => ({ value: encodeNpy(d, SAMPLE_SHAPE) })), perMessage: 1 },
    { what: 'json {"input": [...]}', encoding: 'json', messages: digits.map((d) => ({ value: utf8.encode(JSON.stringify({ input: Array.from(d) })) })), perMessage: 1 },
  ];
  for (const b of [1, 8]) {
    out.push(
      { what: `oip-protobuf raw_input_contents, B=${b}`, encoding: 'oip-protobuf', messages: groups(b).map((g) => ({ value: pb(g, 'raw') })), perMessage: b },
      { what: `oip-protobuf fp32_contents, B=${b}`, encoding: 'oip-protobuf', messages: groups(b).map((g) => ({ value: pb(g, 'contents') })), perMessage: b },
      { what: `oip-json, B=${b}`, encoding: 'oip-json', messages: groups(b).map((g) => ({ value: v2(g) })), perMessage: b },
      { what: `kserve-v1-json, B=${b}`, encoding: 'kserve-v1-json', messages: groups(b).map((g) => ({ value: v1(g) })), perMessage: b },
    );
  }
  out.push({ what: 'auto: CloudEvent headers + v2 JSON, B=8', encoding: 'auto', messages: groups(8).map((g) => ({ value: v2(g), headers: CE_HEADERS })), perMessage: 8 });
  return out;
}

export async function benchServing(o: { rate: Rate; report: Report; threads: number; n: number; logger: Logger }): Promise<void> {
  const data = readNpyFile(DIGITS_DATA);
  const all = Float32Array.from(data.data);
  const digits = Array.from({ length: 256 }, (_, i) => all.slice(i * 784, (i + 1) * 784));
  const rates: Record<string, number> = {};
  for (const c of cases(digits)) {
    const decoder = createMessageDecoder(
      c.encoding === 'raw-f32' || c.encoding === 'npy' || c.encoding === 'json'
        ? { encoding: c.encoding, inputs: [{ name: 'input', type: 'float32', sampleShape: SAMPLE_SHAPE }], maxMessageBytes: defaultMaxMessageBytes(c.encoding, 784) }
        : { encoding: c.encoding, inputs: [{ name: 'input', type: 'float32', sampleShape: SAMPLE_SHAPE }], tensor: undefined, maxMessageBytes: defaultMaxMessageBytes(c.encoding, 784) },
    );
    if (decoder.mode !== 'sync') throw new Error('numeric decoders are sync');
    const first = decoder.decode(c.messages[0]!.value, c.messages[0]!.headers);
    if (!first.ok) throw new Error(`${c.what}: ${first.reason} (${first.detail})`);
    const bytes = c.messages.reduce((s, m) => s + m.value.length, 0) / c.messages.length;
    const r = await o.rate(c.messages.length * c.perMessage, () => {
      for (const m of c.messages) if (!decoder.decode(m.value, m.headers).ok) throw new Error(c.what);
    });
    rates[c.what] = r;
    o.report(`decode ${c.what} (${Math.round(bytes)} B)`, r, 'samples');
  }
  const model = await TappedModel.open({ path: DIGITS_MODEL, providers: ['cpu'], variant: 'auto', logger: o.logger, threads: o.threads });
  const stacked = all.slice(0, 2 * o.n * 784);
  const inference = await o.rate(o.n, () => model.run(stacked, 2 * o.n));
  o.report(`digits-cnn inference with ${model.layers.length} Gram taps (production samples)`, inference, 'samples');
  await model.close();
  const base = rates['raw-f32 (one sample a message)']!;
  console.log('\ndecode / inference (above 1: decoding keeps up), and against raw-f32');
  for (const [what, r] of Object.entries(rates)) console.log(`  ${what.padEnd(44)} ${(r / inference).toFixed(1).padStart(7)}x  ${(r / base).toFixed(3).padStart(7)} of raw-f32`);
  console.log('');
}
