import { z } from 'zod';
import { tensorName, wholeNumber } from './fields.js';
import { SERVING_ENCODINGS } from './vocabulary.js';

/**
 * model.responses: the served model's answers are the signal (a `.outputs` topic). No model
 * file: its output tensor, read from each response, is the one monitored layer, through an
 * identity model made at start-up (model/graph/identity.ts) so that everything downstream
 * (calibration, windows, checkpoints) is the same as for a model's layer.
 */
export const responsesSection = z.strictObject({
  tensor: tensorName,
  // The output's shape per sample, without the batch dimension: [10] for 10 logits.
  shape: z.array(wholeNumber(1, 1 << 20), { error: 'a list of dimensions, e.g. [10]' }).min(1, { error: 'a list of at least one dimension, e.g. [10]' }).max(8, { error: 'a list of at most 8 dimensions' }),
});

/** Within the model section: a path or responses, and with responses no layers or pin. */
export function responsesInModel(
  model: { readonly path?: string | undefined; readonly responses?: unknown; readonly layers?: readonly string[] | undefined; readonly sha256?: string | undefined },
  zctx: z.core.$RefinementCtx<unknown>,
): void {
  if (model.path === undefined && model.responses === undefined) {
    zctx.addIssue({ code: 'custom', message: 'an .onnx file path (or responses, to watch a served model\'s outputs)', input: undefined, path: ['path'] });
  }
  if (model.responses === undefined) return;
  if (model.path !== undefined) zctx.addIssue({ code: 'custom', message: 'either path or responses, not both', input: model.responses, path: ['responses'] });
  // The layer is responses.tensor; there is no file to pin.
  for (const key of ['layers', 'sha256'] as const) {
    if (model[key] !== undefined) zctx.addIssue({ code: 'custom', message: `no ${key} with responses (the monitored layer is responses.tensor)`, input: model[key], path: [key] });
  }
}

/** What model.responses asks of the other sections: responses in a serving encoding, numbers only, no candidate. */
export function responsesNeeds(
  config: { readonly candidate?: unknown; readonly input: { readonly encoding: string; readonly name?: unknown; readonly image?: unknown; readonly text?: unknown } },
  zctx: z.core.$RefinementCtx<unknown>,
): void {
  const { input } = config;
  if (!(SERVING_ENCODINGS as readonly string[]).includes(input.encoding)) {
    zctx.addIssue({ code: 'custom', message: `one of ${SERVING_ENCODINGS.join(', ')} with model.responses (responses are read as the serving system writes them)`, input: input.encoding, path: ['input', 'encoding'] });
  }
  for (const key of ['name', 'image', 'text'] as const) {
    if (input[key] !== undefined) zctx.addIssue({ code: 'custom', message: `no ${key} with model.responses (the output tensor is read as numbers)`, input: input[key], path: ['input', key] });
  }
  if (config.candidate !== undefined) zctx.addIssue({ code: 'custom', message: 'no candidate with model.responses (there is no model to pair it with)', input: config.candidate, path: ['candidate'] });
}

