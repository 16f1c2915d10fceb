import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../../../src/errors/index.js';
import { onnx } from '../../../src/model/graph/proto.js';
import { decodeModel, defaultOpset, encodeModel, readModel } from '../../../src/model/graph/onnx-file.js';
import { modelFixture, tinyModel } from '../../helpers/fixtures.js';
import { rejection } from '../../helpers/errors.js';

describe('readModel / decodeModel', () => {
  it('reads the opset of the default domain', async () => {
    expect(defaultOpset(await readModel(tinyModel('tiny-resnet-op11.onnx')))).toBe(11);
    expect(defaultOpset(await readModel(tinyModel('tiny-resnet-op13.onnx')))).toBe(13);
    expect(defaultOpset(await readModel(tinyModel('tiny-resnet-op18.onnx')))).toBe(18);
  });

  it('reads the exported digits CNN', async () => {
    const model = await readModel(modelFixture('digits-cnn.onnx'));
    expect(defaultOpset(model)).toBeGreaterThanOrEqual(13);
    expect(model.graph?.input?.[0]?.name).toBe('input');
  });

  it('round-trips through encode and decode without losing anything', async () => {
    // Not byte-equal: protobufjs packs repeated int64 fields that Python's writer may not.
    const bytes = await readFile(tinyModel('tiny-resnet-op13.onnx'));
    const asObject = (b: Uint8Array): unknown => onnx.ModelProto.toObject(decodeModel(b), { longs: String, bytes: String });
    expect(asObject(encodeModel(decodeModel(bytes)))).toEqual(asObject(bytes));
  });

  it('rejects weights in external data with a fix', async () => {
    const error = await rejection(readModel(tinyModel('tiny-external.onnx')), ModelError);
    expect(error.message.replaceAll(`${tinyModel('')}/`, '<tiny>/')).toMatchInlineSnapshot(
      `"'<tiny>/tiny-external.onnx' keeps its weights in external data (tensor 'conv1.w' is in 'tiny-external.onnx.data'); ckawatch needs a self-contained model under 2 GiB: re-save it with onnx.save(onnx.load('<tiny>/tiny-external.onnx'), 'single.onnx', save_as_external_data=False)"`,
    );
  });

  it('says what is wrong with a missing file or bytes that are not ONNX', async () => {
    await expect(readModel('/nonexistent/model.onnx')).rejects.toThrowErrorMatchingInlineSnapshot(
      `[ModelError: cannot read model file '/nonexistent/model.onnx': no such file; check the model path in the configuration]`,
    );
    expect(() => decodeModel(new TextEncoder().encode('{"not": "onnx"}'), 'x.json')).toThrow(ModelError);
    expect(() => decodeModel(new Uint8Array(), 'empty.onnx')).toThrowErrorMatchingInlineSnapshot(
      `[ModelError: 'empty.onnx' holds no ONNX graph (no nodes); is it an .onnx model file?]`,
    );
  });
});
