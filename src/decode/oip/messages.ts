/**
 * The Open Inference Protocol (KServe v2) messages ckawatch reads, as protobufjs types.
 *
 * Written here from the protocol's published field names and numbers (the v2 gRPC
 * protocol, `inference` package), not copied from an upstream .proto: only the fields
 * ckawatch reads are declared, and protobufjs skips the others (parameters, requested
 * outputs) on the wire. tools/fixtures/make_oip_fixtures.py checks every number below
 * against tritonclient's generated descriptor.
 */
import protobuf from 'protobufjs';

/** InferTensorContents: one typed repeated field per datatype family. */
const contents = {
  fields: {
    bool_contents: { rule: 'repeated', type: 'bool', id: 1 },
    int_contents: { rule: 'repeated', type: 'int32', id: 2 },
    int64_contents: { rule: 'repeated', type: 'int64', id: 3 },
    uint_contents: { rule: 'repeated', type: 'uint32', id: 4 },
    uint64_contents: { rule: 'repeated', type: 'uint64', id: 5 },
    fp32_contents: { rule: 'repeated', type: 'float', id: 6 },
    fp64_contents: { rule: 'repeated', type: 'double', id: 7 },
    bytes_contents: { rule: 'repeated', type: 'bytes', id: 8 },
  },
};

/** InferInputTensor and InferOutputTensor share these numbers. */
const tensor = {
  fields: {
    name: { type: 'string', id: 1 },
    datatype: { type: 'string', id: 2 },
    shape: { rule: 'repeated', type: 'int64', id: 3 },
    contents: { type: 'InferTensorContents', id: 5 },
  },
};

const root = protobuf.Root.fromJSON({
  nested: {
    inference: {
      nested: {
        InferTensorContents: contents,
        ModelInferRequest: {
          fields: {
            model_name: { type: 'string', id: 1 },
            id: { type: 'string', id: 3 },
            inputs: { rule: 'repeated', type: 'InferInputTensor', id: 5 },
            raw_input_contents: { rule: 'repeated', type: 'bytes', id: 7 },
          },
          nested: { InferInputTensor: tensor },
        },
        ModelInferResponse: {
          fields: {
            model_name: { type: 'string', id: 1 },
            id: { type: 'string', id: 3 },
            outputs: { rule: 'repeated', type: 'InferOutputTensor', id: 5 },
            raw_output_contents: { rule: 'repeated', type: 'bytes', id: 6 },
          },
          nested: { InferOutputTensor: tensor },
        },
      },
    },
  },
});

/** protobufjs gives 64-bit integers as Long objects (the `long` package) or, without it, numbers. */
export type Int64 = number | { toNumber(): number };

export interface WireContents {
  readonly bool_contents: readonly boolean[];
  readonly int_contents: readonly number[];
  readonly int64_contents: readonly Int64[];
  readonly uint_contents: readonly number[];
  readonly uint64_contents: readonly Int64[];
  readonly fp32_contents: readonly number[];
  readonly fp64_contents: readonly number[];
  readonly bytes_contents: readonly Uint8Array[];
}

export interface WireTensor {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly Int64[];
  readonly contents?: WireContents | null;
}

/** A request or a response, with its tensors and raw contents under one name. */
export interface WireMessage {
  readonly tensors: readonly WireTensor[];
  readonly raw: readonly Uint8Array[];
}

const requestType = root.lookupType('inference.ModelInferRequest');
const responseType = root.lookupType('inference.ModelInferResponse');

/**
 * Decodes one message; throws protobufjs's errors on bytes that are not one (the caller
 * turns them into a reject reason). Repeated fields absent on the wire decode as [].
 */
export function decodeInferRequest(bytes: Uint8Array): WireMessage {
  const m = requestType.decode(bytes) as unknown as { inputs: WireTensor[]; raw_input_contents: Uint8Array[] };
  return { tensors: m.inputs, raw: m.raw_input_contents };
}

export function decodeInferResponse(bytes: Uint8Array): WireMessage {
  const m = responseType.decode(bytes) as unknown as { outputs: WireTensor[]; raw_output_contents: Uint8Array[] };
  return { tensors: m.outputs, raw: m.raw_output_contents };
}

/** For tests and the demo: encodes a request from plain objects (same field names as above). */
export function encodeInferRequest(message: {
  model_name?: string;
  id?: string;
  inputs: readonly { name: string; datatype: string; shape: readonly number[]; contents?: Partial<Record<keyof WireContents, unknown>> }[];
  raw_input_contents?: readonly Uint8Array[];
}): Uint8Array {
  return requestType.encode(requestType.fromObject(message)).finish();
}

/** For tests: encodes a response (Seldon's `.outputs` topics) from plain objects. */
export function encodeInferResponse(message: {
  model_name?: string;
  id?: string;
  outputs: readonly { name: string; datatype: string; shape: readonly number[]; contents?: Partial<Record<keyof WireContents, unknown>> }[];
  raw_output_contents?: readonly Uint8Array[];
}): Uint8Array {
  return responseType.encode(responseType.fromObject(message)).finish();
}

/** Every declared field's number, by message: the fixtures' check against tritonclient's descriptor. */
export function declaredFieldNumbers(): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const walk = (ns: protobuf.NamespaceBase, prefix: string): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type) {
        const name = prefix + nested.name;
        out[name] = Object.fromEntries(nested.fieldsArray.map((f) => [f.name, f.id]));
        walk(nested, `${name}.`);
      }
    }
  };
  walk(root.lookup('inference') as protobuf.Namespace, '');
  return out;
}

export function toNumber(v: Int64): number {
  return typeof v === 'number' ? v : v.toNumber();
}
