/** Small ONNX graphs built in TS, for cases the fixture files do not cover (many layers, constants, odd shapes). */
import { encodeModel } from '../../../src/model/graph/onnx-file.js';
import { floatValueInfo, type NodeProto, type TensorProto } from '../../../src/model/graph/proto.js';

const weight = (name: string): TensorProto => ({ name, dataType: 1, dims: [4, 4], floatData: Array.from({ length: 16 }, (_, i) => ((i * 7) % 5) / 10 - 0.2) });

/**
 * x [N, 4] -> `blocks` times (MatMul -> Relu, then MatMul -> Relu -> Add(residual) when asked) -> y.
 * Also: 'folded' = MatMul(w0, w1) of two weights (a constant), used by the first block,
 * and 'cross' = MatMul(Transpose(x), x) [4, 4], which is not batch-first.
 */
export function chainModel(blocks: number, residual: boolean): Uint8Array {
  const nodes: NodeProto[] = [
    { opType: 'MatMul', input: ['w0', 'w1'], output: ['folded'], name: 'fold' },
    { opType: 'Transpose', input: ['x'], output: ['xt'], name: 'xt' },
    { opType: 'MatMul', input: ['xt', 'x'], output: ['cross'], name: 'cross' },
  ];
  const initializer = [weight('w0'), weight('w1')];
  const shapes: [string, (number | string)[]][] = [['folded', [4, 4]], ['xt', [4, 'N']], ['cross', [4, 4]]];
  let previous = 'x';
  for (let i = 0; i < blocks; i++) {
    const w = i === 0 ? 'folded' : `w${i + 1}`;
    if (i > 0) initializer.push(weight(w));
    nodes.push({ opType: 'MatMul', input: [previous, w], output: [`mm${i}`], name: `mm${i}` });
    nodes.push({ opType: 'Relu', input: [`mm${i}`], output: [`relu${i}`], name: `relu${i}` });
    shapes.push([`mm${i}`, ['N', 4]], [`relu${i}`, ['N', 4]]);
    let out = `relu${i}`;
    if (residual) {
      // A second MatMul -> Relu whose output flows straight into the Add, as in a ResNet basic block.
      initializer.push(weight(`v${i}`));
      nodes.push({ opType: 'MatMul', input: [out, `v${i}`], output: [`mmb${i}`], name: `mmb${i}` });
      nodes.push({ opType: 'Relu', input: [`mmb${i}`], output: [`relub${i}`], name: `relub${i}` });
      nodes.push({ opType: 'Add', input: [`relub${i}`, previous], output: [`add${i}`], name: `add${i}` });
      shapes.push([`mmb${i}`, ['N', 4]], [`relub${i}`, ['N', 4]], [`add${i}`, ['N', 4]]);
      out = `add${i}`;
    }
    previous = out;
  }
  nodes.push({ opType: 'Identity', input: [previous], output: ['y'], name: 'y' });
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'chain',
      node: nodes,
      initializer,
      input: [floatValueInfo('x', ['N', 4])],
      output: [floatValueInfo('y', ['N', 4]), floatValueInfo('cross', [4, 4])],
      valueInfo: shapes.map(([name, dims]) => floatValueInfo(name, dims)),
    },
  });
}
