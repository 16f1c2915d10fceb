/**
 * What serving systems write, to samples:
 *
 *   Kafka headers + value
 *     │ encoding auto: ce_type *.response ──▶ 'not_request' (with model.responses: *.request ──▶ 'not_response')
 *     │                ce_type *.request / content-type json / a body opening with '{' ──▶ JSON
 *     │                otherwise (Seldon Core 2 writes no content type) ──▶ protobuf
 *     ├─ oip-protobuf    inference.ModelInferRequest, or ModelInferResponse with model.responses  (protobuf.ts)
 *     ├─ oip-json        {"inputs": [{name, shape, datatype, data}]}  (json.ts)
 *     └─ kserve-v1-json  {"instances": [...]}  (json.ts)
 *                 ▼
 *   one tensor [B, ...] ──▶ B samples (tensor.ts)
 *
 * KServe's payload logger sends CloudEvents; a Knative Kafka broker or KafkaSink in binary
 * mode keeps the attributes as headers (ce_type, ce_id, ce_source, content-type) and the
 * body as the value, so the value is the request body itself.
 */
import { fail } from '../../io/result.js';
import type { ServingEncoding } from '../../config/vocabulary.js';
import type { MessageHeaders } from '../types.js';
import { decodeServingJson } from './json.js';
import { decodeOipProtobuf } from './protobuf.js';
import type { TensorChoice } from './pick.js';
import type { SamplesResult } from './tensor.js';

export type { SamplesResult } from './tensor.js';

export interface ServingDecoderOptions extends TensorChoice {
  readonly encoding: ServingEncoding;
  /** The model input's shape without the batch dimension. */
  readonly sampleShape: readonly number[];
  /** Read responses (ModelInferResponse, v2 "outputs", v1 "predictions") instead of requests: model.responses. */
  readonly responses?: boolean | undefined;
}

/** A header by name, case-insensitively; Knative writes ce_type, the HTTP binding ce-type. */
function header(headers: MessageHeaders | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = [name, name.replace('_', '-')];
  for (const [key, value] of Object.entries(headers)) if (wanted.includes(key.toLowerCase())) return value;
  return undefined;
}

/** The first byte that is not JSON whitespace. */
function firstByte(bytes: Uint8Array): number | undefined {
  for (const b of bytes) if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return b;
  return undefined;
}

export function createServingDecoder(options: ServingDecoderOptions): (bytes: Uint8Array, headers?: MessageHeaders) => SamplesResult {
  const { encoding, sampleShape } = options;
  const responses = options.responses ?? false;
  const choice: TensorChoice = { tensor: options.tensor, inputName: options.inputName, elements: options.elements, strings: options.strings };
  switch (encoding) {
    case 'oip-protobuf':
      return (bytes) => decodeOipProtobuf(bytes, choice, sampleShape, responses);
    case 'oip-json':
      return (bytes) => decodeServingJson(bytes, 'v2', choice, sampleShape, responses);
    case 'kserve-v1-json':
      return (bytes) => decodeServingJson(bytes, 'v1', choice, sampleShape, responses);
    case 'auto':
      return (bytes, headers) => {
        const type = header(headers, 'ce_type');
        if (!responses && type?.endsWith('.response')) return fail('not_request', `a response (ce_type ${type.slice(0, 80)}); set the KServe logger mode to request`);
        // KServe's logger in mode all sends both to one topic: with model.responses the requests are the ones left out.
        if (responses && type?.endsWith('.request')) return fail('not_response', `a request (ce_type ${type.slice(0, 80)}) where model.responses reads responses`);
        const contentType = header(headers, 'content-type')?.toLowerCase();
        if (contentType?.includes('json') || (contentType === undefined && firstByte(bytes) === 0x7b)) {
          return decodeServingJson(bytes, 'either', choice, sampleShape, responses);
        }
        if (contentType === undefined || contentType.includes('protobuf') || contentType.includes('octet-stream') || contentType.includes('grpc')) {
          return decodeOipProtobuf(bytes, choice, sampleShape, responses);
        }
        return fail('unknown_encoding', `content-type ${JSON.stringify(contentType.slice(0, 60))} is neither JSON nor protobuf`);
      };
  }
}
