import { type Encoding } from '../../src/config/vocabulary.js';
/**
 * Hostile Kafka message values for the fuzz suite, from a seeded PRNG (the same seed gives
 * the same bytes): bit flips of valid raw-f32, .npy and JSON digits, truncations and
 * extensions, random bytes, .npy headers that lie (dtype, shape, huge header and data
 * lengths, versions), JSON nested thousands deep, "__proto__" and "constructor" keys.
 */




export type Random = () => number;

const int = (random: Random, n: number): number => Math.floor(random() * n);
const pick = <T>(random: Random, xs: readonly T[]): T => xs[int(random, xs.length)]!;

function randomBytes(random: Random, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = int(random, 256);
  return out;
}

function flipBits(random: Random, bytes: Buffer, flips: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < flips && out.length > 0; i++) {
    const at = int(random, out.length);
    out[at] = out[at]! ^ (1 << int(random, 8));
  }
  return out;
}

/** A .npy file with this header dict text (format `major`), followed by `data`. */
export function npyWithHeader(dict: string, data: Buffer, major = 1, declaredLength?: number): Buffer {
  const lengthBytes = major === 1 ? 2 : 4;
  const pre = 6 + 2 + lengthBytes;
  const padded = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const header = Buffer.from(dict.padEnd(padded - pre - 1, ' ') + '\n', 'latin1');
  const prefix = Buffer.alloc(pre);
  Buffer.from('\x93NUMPY', 'latin1').copy(prefix, 0);
  prefix[6] = major;
  prefix[7] = 0;
  const length = declaredLength ?? header.length;
  if (major === 1) prefix.writeUInt16LE(length & 0xffff, 8);
  else prefix.writeUInt32LE(length >>> 0, 8);
  return Buffer.concat([prefix, header, data]);
}

const NPY_DICTS = [
  "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 28, 28), }",
  "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 28, 28), }",
  "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 28, 28), }",
  "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 28, 28), }",
  "{'descr': '<f4', 'fortran_order': False, 'shape': (784,), }",
  "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 28, 28), }",
  "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 28, 28), }",
  "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }",
  "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 28, 28, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), }",
  "{'descr': 'O', 'fortran_order': False, 'shape': (1, 28, 28), }",
  "{'descr': '<c8', 'fortran_order': False, 'shape': (1, 28, 28), }",
  "{'descr': '|b1', 'fortran_order': False, 'shape': (1, 28, 28), }",
  "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1, 28, 28), }",
  "{'__proto__': {'polluted': 1}, 'descr': '<f4', 'fortran_order': False, 'shape': (1, 28, 28), }",
  "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (1, 28, 28), }",
  "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 28, 28), 'extra': __import__('os'), }",
  "{'descr': '<f4', 'shape': (1, 28, 28)}",
  "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 28, 28",
  '',
];

function hostileNpy(random: Random, data: Buffer): Buffer {
  const dict = pick(random, NPY_DICTS);
  switch (int(random, 5)) {
    case 0:
      return npyWithHeader(dict, data);
    case 1: // v2/v3 header with a huge declared header length
      return npyWithHeader(dict, data, pick(random, [2, 3]), pick(random, [0xffffffff, 0x7fffffff, 1 << 30, 0]));
    case 2: // v1 with a header length past the end
      return npyWithHeader(dict, data.subarray(0, int(random, data.length)), 1, pick(random, [0xffff, 60000, 1]));
    case 3: // unknown versions
      return npyWithHeader(dict, data, pick(random, [0, 4, 9, 255]));
    default: // data shorter or longer than the shape says
      return npyWithHeader(dict, int(random, 2) === 0 ? data.subarray(0, int(random, data.length)) : Buffer.concat([data, randomBytes(random, 1 + int(random, 64))]));
  }
}

function hostileJson(random: Random, values: readonly number[]): Buffer {
  const depth = 1 + int(random, 14_000);
  const list = JSON.stringify(values);
  const cases: (() => string)[] = [
    () => '['.repeat(depth) + ']'.repeat(depth),
    () => '{"input":' + '['.repeat(depth) + '1' + ']'.repeat(depth) + '}',
    () => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth),
    () => `{"__proto__":{"polluted":1},"input":${list}}`,
    () => `{"input":${list},"constructor":{"prototype":{"polluted":1}}}`,
    () => `{"inputs":{"__proto__":{"polluted":1},"input":${list}}}`,
    () => `{"inputs":{"input":${list},"__proto__":[1,2]}}`,
    () => `{"input":{"__proto__":${list}}}`,
    () => `{"input":{"length":784,"0":1}}`,
    () => `{"input":[${values.slice(0, 783).join(',')},"1"]}`,
    () => `{"input":[${values.slice(0, 783).join(',')},1e400]}`,
    () => `{"input":[${values.slice(0, 783).join(',')},null]}`,
    () => `{"input":${list},"input":[1]}`,
    () => `{"input":${JSON.stringify([values.slice(0, 392), values.slice(392)])}}`,
    () => `{"input":[[${values.slice(0, 28).join(',')}]]}`,
    () => '"' + 'x'.repeat(int(random, 20_000)) + '"',
    () => `{"input":${list}}`.slice(0, int(random, list.length)),
    () => '\ufeff' + `{"input":${list}}`,
  ];
  return Buffer.from(pick(random, cases)(), 'utf8');
}

const SMALL_JSON = [
  '{}',
  '[]',
  'null',
  '1e999',
  '{"input":null}',
  '{"input":[]}',
  '{"input":{}}',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  '{"inputs":{"__proto__":{"polluted":1}}}',
  '{"inputs":{"constructor":{"prototype":{"polluted":1}}}}',
  '{"input":"AAAA"}',
  '{"input":[1,2,3]',
  '{"input":[NaN]}',
  '\u0000',
];

/**
 * `count` hostile values for `encoding`, made from valid messages of that encoding (and of
 * the others: a topic carries whatever a producer sends). `valid` gives the valid message
 * bytes of each encoding for a digit; `values` its numbers.
 */
export function hostileMessages(
  encoding: Encoding,
  count: number,
  random: Random,
  valid: (encoding: Encoding) => { bytes: Buffer; values: readonly number[] },
): (Buffer | null)[] {
  const out: (Buffer | null)[] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    const base = valid(r < 0.9 ? encoding : pick(random, ['raw-f32', 'npy', 'json'] as const));
    if (r < 0.02) out.push(base.bytes); // a valid one now and then
    else if (r < 0.06) out.push(flipBits(random, base.bytes, 1 + int(random, 4)));
    else if (r < 0.3) out.push(base.bytes.subarray(0, int(random, random() < 0.8 ? Math.min(512, base.bytes.length) : base.bytes.length))); // truncated
    else if (r < 0.35) out.push(Buffer.concat([base.bytes, randomBytes(random, 1 + int(random, 16))])); // too long
    else if (r < 0.6) out.push(randomBytes(random, int(random, 300)));
    else if (r < 0.78) out.push(hostileNpy(random, random() < 0.7 ? randomBytes(random, int(random, 256)) : base.bytes.subarray(0, 3136)));
    else if (r < 0.82) out.push(hostileJson(random, base.values));
    else if (r < 0.88) out.push(null); // tombstone (0.82-0.88)
    else if (r < 0.885) out.push(Buffer.alloc(int(random, 40_000), int(random, 256))); // big, one byte repeated
    else if (r < 0.95) out.push(Buffer.from(pick(random, SMALL_JSON), 'utf8'));
    else out.push(flipBits(random, base.bytes.subarray(0, int(random, base.bytes.length)), 1 + int(random, 3)));
  }
  return out;
}
