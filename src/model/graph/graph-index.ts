/**
 * Look-up tables over one ONNX graph: who produces and who consumes each tensor,
 * which tensors are constants, what shape value_info records, and the nodes in
 * topological order. Built once per model; read-only.
 */
import { ModelError } from '../../errors/index.js';
import type { GraphProto, ModelProto, NodeProto, ValueInfoProto } from './proto.js';

export interface GraphIndex {
  readonly graph: GraphProto;
  /** Nodes in topological order (stable: file order where the file is already sorted, as ONNX requires). */
  readonly nodes: readonly NodeProto[];
  readonly producer: ReadonlyMap<string, NodeProto>;
  readonly consumers: ReadonlyMap<string, readonly NodeProto[]>;
  /** Initializers, Constant outputs and outputs of nodes that read only constants. */
  readonly constants: ReadonlySet<string>;
  /** Graph inputs that are not initializers: what the caller feeds. */
  readonly inputs: readonly ValueInfoProto[];
  /** value_info, graph outputs and graph inputs by tensor name. */
  readonly valueInfo: ReadonlyMap<string, ValueInfoProto>;
  /** Every tensor and node name in the graph, to keep added names unique. */
  readonly names: ReadonlySet<string>;
}

export function indexGraph(model: ModelProto): GraphIndex {
  const graph = model.graph;
  if (!graph) throw new ModelError('the model has no graph; is it an .onnx model file?');
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const valueInfo = new Map<string, ValueInfoProto>();
  for (const vi of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
    if (vi.name) valueInfo.set(vi.name, vi);
  }
  const nodes = topologicalOrder(graph.node ?? [], new Set([...initializers, ...valueInfo.keys()]));
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  const constants = new Set(initializers);
  const names = new Set<string>([...initializers, ...valueInfo.keys()]);
  for (const node of nodes) {
    if (node.name) names.add(node.name);
    const inputs = (node.input ?? []).filter((i) => i !== '');
    for (const i of inputs) consumers.set(i, [...(consumers.get(i) ?? []), node]);
    // A node that reads only constants (shape arithmetic, folded weights) is a constant too.
    const constant = node.opType === 'Constant' || (inputs.length > 0 && inputs.every((i) => constants.has(i)));
    for (const o of node.output ?? []) {
      if (o === '') continue;
      producer.set(o, node);
      names.add(o);
      if (constant) constants.add(o);
    }
  }
  const inputs = (graph.input ?? []).filter((vi) => !initializers.has(vi.name ?? ''));
  return { graph, nodes, producer, consumers, constants, inputs, valueInfo, names };
}

/**
 * Kahn's algorithm, taking nodes in file order whenever several are ready. ONNX
 * requires sorted graphs, but hand-edited ones are not always, and the default
 * layer choice and the listing must not depend on that.
 */
function topologicalOrder(nodes: readonly NodeProto[], available: Set<string>): NodeProto[] {
  const produced = new Set<string>();
  for (const n of nodes) for (const o of n.output ?? []) produced.add(o);
  const ready = (n: NodeProto): boolean =>
    (n.input ?? []).every((i) => i === '' || available.has(i) || !produced.has(i));
  const pending = [...nodes];
  const order: NodeProto[] = [];
  while (pending.length > 0) {
    const at = pending.findIndex(ready);
    if (at < 0) {
      throw new ModelError(`the graph has a cycle around node '${pending[0]?.name ?? '?'}'; it is not a valid ONNX model`);
    }
    const [node] = pending.splice(at, 1);
    for (const o of node!.output ?? []) available.add(o);
    order.push(node!);
  }
  return order;
}
