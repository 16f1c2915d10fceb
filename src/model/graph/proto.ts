/**
 * The ONNX protobuf classes (onnx-proto: static protobufjs code for onnx.proto) and
 * the few helpers every graph-surgery file needs.
 *
 * onnx-proto is CommonJS that assigns `module.exports` at the end, so Node's ESM
 * loader sees only a default export: `import { onnx } from 'onnx-proto'` type-checks
 * but is undefined at run time. Import the classes from here instead.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

export const onnx = onnxProto.onnx;

export type ModelProto = OnnxTypes.ModelProto;
/** A model as plain fields, for building modified copies; what encode takes. */
export type ModelMessage = OnnxTypes.IModelProto;
export type GraphProto = OnnxTypes.IGraphProto;
export type NodeProto = OnnxTypes.INodeProto;
export type TensorProto = OnnxTypes.ITensorProto;
export type ValueInfoProto = OnnxTypes.IValueInfoProto;
export type AttributeProto = OnnxTypes.IAttributeProto;

/** ONNX TensorProto.DataType codes used here. */
export const DataType = { FLOAT: 1, INT64: 7 } as const;

/** protobufjs decodes int64 fields to Long objects (onnx-proto bundles `long`); the rest of the code wants numbers. */
export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

export function attrInt(name: string, value: number): AttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

export function attrInts(name: string, values: readonly number[]): AttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...values] };
}

export function int64Tensor(name: string, values: readonly number[]): TensorProto {
  return { name, dataType: DataType.INT64, dims: [values.length], int64Data: [...values] };
}

/** A graph output (or value_info) entry for a float32 tensor; `null` dims stay unknown. */
/** A float32 tensor's value info; `dims` null leaves the shape (and rank) unknown. */
export function floatValueInfo(name: string, dims: readonly (number | string | null)[] | null): ValueInfoProto {
  const shape = dims === null ? {} : {
    shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})) },
  };
  return { name, type: { tensorType: { elemType: DataType.FLOAT, ...shape } } };
}

/**
 * The shape recorded in a value_info entry: numbers for fixed dims, names for
 * symbolic ones, null for unknown ones; null for the whole shape when it was not
 * recorded (shape inference not run, or not a tensor).
 */
export function valueInfoShape(vi: ValueInfoProto | undefined): (number | string | null)[] | null {
  const shape = vi?.type?.tensorType?.shape;
  if (shape === null || shape === undefined) return null;
  return (shape.dim ?? []).map((d) => {
    if (isSet(d, 'dimParam') && d.dimParam !== '') return d.dimParam ?? null;
    if (isSet(d, 'dimValue')) return toNumber(d.dimValue);
    return null;
  });
}

/**
 * Whether a field was present in the decoded bytes. protobufjs puts defaults on the
 * prototype (dimValue 0, empty arrays), so `d.dimValue` alone cannot tell a fixed
 * dimension of 0 from an unknown one.
 */
export function isSet<T extends object>(message: T, key: keyof T & string): boolean {
  return Object.prototype.hasOwnProperty.call(message, key) && message[key] !== null && message[key] !== undefined;
}

/** The element type code of a value_info entry, or null when not recorded. */
export function valueInfoElemType(vi: ValueInfoProto | undefined): number | null {
  const t = vi?.type?.tensorType?.elemType;
  return t === null || t === undefined || t === 0 ? null : t;
}
