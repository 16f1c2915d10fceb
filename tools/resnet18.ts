/**
 * Writes a ResNet-18 (torchvision's layout: 7×7 stem, max pool, 4 stages of 2 basic blocks,
 * global average pool, 1000-way Gemm; batch norms folded into the convolutions' biases) at
 * 224 px with random He-initialised weights, for cost benchmarks only (bench/taps.ts): no
 * torch, no download. The file is 47 MB and generated on demand, kept out of git.
 *
 *   npx tsx tools/resnet18.ts [OUT.onnx]        # default .cache/models/resnet18-224.onnx
 *
 * Every intermediate tensor's shape is recorded (value_info), as a torch export's shape
 * inference would, so that `ckawatch layers` and the default layer set see [N, C, H, W].
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { encodeModel } from '../src/model/graph/onnx-file.js';
import { attrInt, attrInts, DataType, floatValueInfo, type NodeProto, type TensorProto, type ValueInfoProto } from '../src/model/graph/proto.js';
import { createPrng } from '../src/reference/prng.js';

const out = process.argv[2] ?? '.cache/models/resnet18-224.onnx';
const prng = createPrng(18);
const nodes: NodeProto[] = [];
const initializers: TensorProto[] = [];
const valueInfo: ValueInfoProto[] = [];
let counter = 0;

function gaussian(): number {
  const u = (prng.nextUint32() + 1) / 2 ** 32;
  const v = prng.nextUint32() / 2 ** 32;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function weight(name: string, dims: number[], scale: number): string {
  const values = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = gaussian() * scale;
  initializers.push({ name, dataType: DataType.FLOAT, dims, rawData: new Uint8Array(values.buffer) });
  return name;
}

function node(opType: string, input: string[], shape: number[], attribute: NodeProto['attribute'] = []): string {
  const output = `/${opType.toLowerCase()}_${counter++}`;
  nodes.push({ opType, input, output: [output], name: output, attribute });
  valueInfo.push(floatValueInfo(output, ['N', ...shape]));
  return output;
}

type Act = { name: string; c: number; h: number };

function conv(x: Act, c: number, kernel: number, stride: number): Act {
  const pad = Math.floor(kernel / 2);
  const h = Math.floor((x.h + 2 * pad - kernel) / stride) + 1;
  const w = weight(`w${counter}`, [c, x.c, kernel, kernel], Math.sqrt(2 / (x.c * kernel * kernel)));
  const b = weight(`b${counter}`, [c], 0.01);
  const attrs = [attrInts('kernel_shape', [kernel, kernel]), attrInts('strides', [stride, stride]), attrInts('pads', [pad, pad, pad, pad])];
  return { name: node('Conv', [x.name, w, b], [c, h, h], attrs), c, h };
}

const relu = (x: Act): Act => ({ ...x, name: node('Relu', [x.name], [x.c, x.h, x.h]) });

function block(x: Act, c: number, stride: number): Act {
  const y = conv(relu(conv(x, c, 3, stride)), c, 3, 1);
  const shortcut = stride !== 1 || x.c !== c ? conv(x, c, 1, stride) : x;
  return relu({ ...y, name: node('Add', [y.name, shortcut.name], [c, y.h, y.h]) });
}

let x: Act = relu(conv({ name: 'input', c: 3, h: 224 }, 64, 7, 2));
x = { ...x, h: 56, name: node('MaxPool', [x.name], [64, 56, 56], [attrInts('kernel_shape', [3, 3]), attrInts('strides', [2, 2]), attrInts('pads', [1, 1, 1, 1])]) };
for (const [c, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]] as const) x = block(block(x, c, stride), c, 1);
const pooled = node('GlobalAveragePool', [x.name], [512, 1, 1]);
const flat = node('Flatten', [pooled], [512], [attrInt('axis', 1)]);
const logits = 'logits';
nodes.push({ opType: 'Gemm', input: [flat, weight('fc_w', [1000, 512], Math.sqrt(1 / 512)), weight('fc_b', [1000], 0.01)], output: [logits], name: 'fc', attribute: [attrInt('transB', 1)] });

const model = {
  irVersion: 8,
  opsetImport: [{ domain: '', version: 17 }],
  producerName: 'ckawatch tools/resnet18.ts',
  graph: {
    name: 'resnet18',
    node: nodes,
    initializer: initializers,
    input: [floatValueInfo('input', ['N', 3, 224, 224])],
    output: [floatValueInfo(logits, ['N', 1000])],
    valueInfo,
  },
};
mkdirSync(dirname(out), { recursive: true });
const bytes = encodeModel(model);
writeFileSync(out, bytes);
console.log(`wrote ${out}: ${nodes.length} nodes, ${(bytes.length / 2 ** 20).toFixed(1)} MiB`);
