/**
 * oip-protobuf: a ModelInferRequest (Seldon Core 2's `.inputs` topics) to samples. The
 * chosen tensor's values come from its typed `contents`, or from the `raw_input_contents`
 * entry at its position (the protocol: raw contents, when used, hold every input in order).
 * With `responses` (model.responses), a ModelInferResponse (`.outputs` topics): the same
 * layout under `outputs` and `raw_output_contents`.
 */
import { fail } from '../../io/result.js';
import { decodeInferRequest, decodeInferResponse, type WireMessage } from './messages.js';
import { pickTensor, type TensorChoice } from './pick.js';
import { bytesElements, checkDatatype, fromContents, fromRaw, rowsOf, samplesOfElements, shapeOf, toSamples, type SamplesResult } from './tensor.js';

export function decodeOipProtobuf(bytes: Uint8Array, choice: TensorChoice, sampleShape: readonly number[], responses = false): SamplesResult {
  const what = responses ? 'ModelInferResponse' : 'ModelInferRequest';
  let message: WireMessage;
  try {
    message = responses ? decodeInferResponse(bytes) : decodeInferRequest(bytes);
  } catch (error) {
    // protobufjs throws RangeError / Error ("index out of range", "invalid wire type") on bytes that are not a message.
    return fail('bad_protobuf', `not an inference.${what}: ${error instanceof Error ? error.message.slice(0, 120) : 'unreadable'}`);
  }
  if (message.tensors.length === 0) return fail('no_tensor', `a ${what} without ${responses ? 'outputs' : 'inputs'}`);
  const picked = pickTensor(message.tensors, choice);
  if (!picked.ok) return picked;
  const { tensor, index } = picked.value;
  if (choice.elements) {
    // Text: a BYTES tensor, its elements typed or in raw contents at the tensor's position.
    if (tensor.datatype !== 'BYTES') return fail('wrong_dtype', `input.${choice.strings === 'base64' ? 'image' : 'text'} is set: expected a BYTES tensor, found ${tensor.datatype.slice(0, 20)}`);
    const elements = message.raw.length > 0 ? (message.raw[index] ? bytesElements(message.raw[index]) : null) : (tensor.contents?.bytes_contents ?? []);
    if (elements === null) return fail('wrong_size', 'BYTES raw contents whose element lengths do not add up');
    return samplesOfElements(elements, shapeOf(tensor.shape), choice.elements);
  }
  const datatype = checkDatatype(tensor.datatype);
  if (!datatype.ok) return datatype;
  const shape = shapeOf(tensor.shape);
  // Shape first: a wrong one is told as such, whatever the values.
  if (rowsOf(shape, sampleShape) === null) return toSamples(new Float32Array(0), shape, sampleShape);
  if (message.raw.length > 0) {
    if (message.raw.length !== message.tensors.length) {
      return fail('wrong_size', `raw contents for ${message.raw.length} of ${message.tensors.length} ${responses ? 'outputs' : 'inputs'}`);
    }
    const values = fromRaw(message.raw[index]!, datatype.value);
    if (values === null) return fail('wrong_size', `${message.raw[index]!.length} raw bytes are not whole ${datatype.value} values`);
    return toSamples(values, shape, sampleShape);
  }
  const values = fromContents(tensor.contents, datatype.value);
  if (typeof values === 'string') return fail('wrong_dtype', values);
  return toSamples(values, shape, sampleShape);
}
