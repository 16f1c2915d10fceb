/**
 * The model behind model.responses: one Identity node from a float32 input [N, ...shape] to
 * an output named after the served model's output tensor. Responses already hold that
 * tensor, so nothing is run again; the identity model only lets the tensor be tapped as a
 * layer like any other (Gram taps, precision check, calibration, checkpoints).
 *
 * The bytes depend on the tensor name and shape alone: the same config gives the same
 * digest, so a restarted daemon's checkpoint (keyed by the model's sha256) still applies.
 */
import { encodeModel } from './onnx-file.js';
import { floatValueInfo, type ModelMessage } from './proto.js';

/** The graph input's name: not the tensor's, which is the layer (an ONNX graph names each value once). */
export function servedInputName(tensor: string): string {
  return `served/${tensor}`;
}

export function identityModel(tensor: string, shape: readonly number[]): Uint8Array {
  const input = servedInputName(tensor);
  const model: ModelMessage = {
    // IR 8 / opset 17: what onnxruntime-node 1.x reads, and opset 13+ as the Gram graphs' ReduceSum wants.
    irVersion: 8,
    producerName: 'ckawatch',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: `responses ${tensor}`,
      input: [floatValueInfo(input, ['N', ...shape])],
      node: [{ opType: 'Identity', input: [input], output: [tensor], name: 'served' }],
      output: [floatValueInfo(tensor, ['N', ...shape])],
    },
  };
  return encodeModel(model);
}
