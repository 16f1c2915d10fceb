/** Reading and writing ONNX ModelProto bytes, with the checks every later step relies on. */
import { readFile } from 'node:fs/promises';
import { ModelError } from '../../errors/index.js';
import { isSet, onnx, toNumber, type ModelMessage, type ModelProto, type TensorProto } from './proto.js';

/** Reads and decodes an .onnx file; see decodeModel for the checks. */
export async function readModel(path: string): Promise<ModelProto> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(cause);
    throw new ModelError(`cannot read model file '${path}': ${why}; check the model path in the configuration`, { cause });
  }
  return decodeModel(bytes, path);
}

/**
 * Decodes ModelProto bytes. Rejects models without a graph and models whose weights
 * live in external data files: ckawatch hands ONNX Runtime the bytes of a rewritten
 * model, so paths relative to the original file would no longer resolve.
 */
export function decodeModel(bytes: Uint8Array, source = 'model'): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (cause) {
    throw new ModelError(`cannot parse '${source}' as an ONNX model (${(cause as Error).message}); is it an .onnx file?`, {
      cause,
    });
  }
  if (!isSet(model, 'graph') || (model.graph?.node ?? []).length === 0) {
    throw new ModelError(`'${source}' holds no ONNX graph (no nodes); is it an .onnx model file?`);
  }
  assertNoExternalData(model, source);
  return model;
}

export function encodeModel(model: ModelMessage): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** The opset version of the default ('' or 'ai.onnx') domain, which decides how Reduce* ops take their axes. */
export function defaultOpset(model: ModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => o.domain === '' || o.domain === 'ai.onnx' || !isSet(o, 'domain'));
  if (entry === undefined) {
    throw new ModelError('the model imports no default ONNX opset (domain ""); re-export it with a standard opset (>= 7)');
  }
  return toNumber(entry.version);
}

function externalFile(t: TensorProto): string | null {
  const external = t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData ?? []).length > 0;
  if (!external) return null;
  return (t.externalData ?? []).find((e) => e.key === 'location')?.value ?? '(unnamed file)';
}

function assertNoExternalData(model: ModelProto, source: string): void {
  const graph = model.graph!;
  const tensors: TensorProto[] = [...(graph.initializer ?? [])];
  for (const node of graph.node ?? []) for (const a of node.attribute ?? []) if (a.t) tensors.push(a.t);
  for (const t of tensors) {
    const file = externalFile(t);
    if (file === null) continue;
    throw new ModelError(
      `'${source}' keeps its weights in external data (tensor '${t.name}' is in '${file}'); ckawatch needs a ` +
        `self-contained model under 2 GiB: re-save it with onnx.save(onnx.load('${source}'), 'single.onnx', ` +
        `save_as_external_data=False)`,
    );
  }
}
