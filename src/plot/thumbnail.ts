import sharp from 'sharp';

/**
 * A model input that is an image (shape [C, H, W] or [H, W, C] with C of 1 or 3, or
 * [H, W]) as a PNG, scaled up to about `size` pixels with hard edges (a 28x28 digit stays
 * legible), each channel stretched from its min to its max: inputs are normalised
 * tensors, not pixels. Null for any other shape.
 */
export async function tensorThumbnail(values: Float32Array, shape: readonly number[], size = 112): Promise<Uint8Array | null> {
  const dims = shape[0] === 1 && shape.length === 4 ? shape.slice(1) : shape;
  let channels: number;
  let height: number;
  let width: number;
  let chw: boolean;
  if (dims.length === 2) [channels, height, width, chw] = [1, dims[0]!, dims[1]!, true];
  else if (dims.length === 3 && (dims[0] === 1 || dims[0] === 3)) [channels, height, width, chw] = [dims[0], dims[1]!, dims[2]!, true];
  else if (dims.length === 3 && (dims[2] === 1 || dims[2] === 3)) [channels, height, width, chw] = [dims[2], dims[0]!, dims[1]!, false];
  else return null;
  if (values.length !== channels * height * width) return null;
  const pixels = new Uint8Array(values.length);
  for (let c = 0; c < channels; c++) {
    const at = (i: number): number => (chw ? c * height * width + i : i * channels + c);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < height * width; i++) {
      const v = values[at(i)]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const span = hi > lo ? hi - lo : 1;
    for (let i = 0; i < height * width; i++) pixels[i * channels + c] = Math.round((255 * (values[at(i)]! - lo)) / span);
  }
  const scale = Math.max(1, Math.round(size / Math.max(height, width)));
  return sharp(pixels, { raw: { width, height, channels: channels as 1 | 3 } })
    .resize(width * scale, height * scale, { kernel: 'nearest' })
    .png()
    .toBuffer();
}
