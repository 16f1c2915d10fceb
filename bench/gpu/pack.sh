#!/usr/bin/env bash
# Packs what the GPU check needs into .gpu/bundle.tar.xz for a device machine that has no
# Node.js: this node binary, dist/, and the runtime packages the check imports (ONNX
# Runtime with its Linux x64 libraries only). The device call carries .gpu (and .gl, the
# Vulkan loader debs); run-on-device.sh unpacks it. Everything that travels, the tracked
# tree included, must stay under 64 MiB: this prints the total.
set -euo pipefail
cd "$(dirname "$0")/../.."
npm run build >/dev/null
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage/node/bin" "$stage/node_modules"
cp "$(command -v node)" "$stage/node/bin/node"
# Debug symbols: 13 MB of the binary that nothing here reads.
if command -v strip >/dev/null; then strip "$stage/node/bin/node"; fi
cp -r dist "$stage/dist"
# The import closure of bench/gpu/check.mjs (dist/model, dist/compare, dist/io, dist/cka):
# checked by running the check from the unpacked bundle (GPU_CHECK_SELFTEST=1 below).
# onnx-proto keeps its own protobufjs and long in its node_modules; @protobufjs/* are
# protobufjs's helpers, hoisted.
for pkg in onnxruntime-node onnxruntime-common onnx-proto @protobufjs zod; do
  cp -r "node_modules/$pkg" "$stage/node_modules/"
done
# Other platforms' ONNX Runtime binaries: about 245 MB the device cannot use.
find "$stage/node_modules/onnxruntime-node/bin/napi-v6" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} +
rm -rf "$stage/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64"
# protobufjs's code generator and browser bundles, zod's TypeScript sources: not imported.
rm -rf "$stage/node_modules/onnx-proto/node_modules/protobufjs/"{cli,dist} "$stage/node_modules/zod/src"

mkdir -p .gpu
echo "compressing (xz -9e, a few minutes on two cores) ..."
tar -C "$stage" -cf - node dist node_modules | xz -9e -T0 > .gpu/bundle.tar.xz
bundle=$(stat -c %s .gpu/bundle.tar.xz)
tracked=$(git ls-files -z | xargs -0 stat -c %s | awk '{s += $1} END {print s}')
gl=$( (ls .gl/*.deb 2>/dev/null || true) | xargs -r stat -c %s | awk '{s += $1} END {print s + 0}')
total=$((bundle + tracked + gl))
awk -v b="$bundle" -v t="$tracked" -v g="$gl" 'BEGIN { m = 1048576; printf "bundle %.1f MiB + tracked files %.1f MiB + .gl %.1f MiB = %.1f MiB of 64 MiB\n", b/m, t/m, g/m, (b+t+g)/m }'
if ((total > 64 * 1048576)); then
  echo "over the device's 64 MiB: leave big fixtures out of the tree for the call (see docs/gpu.md)" >&2
  exit 1
fi

if [[ "${GPU_CHECK_SELFTEST:-0}" == 1 ]]; then
  # Unpack into an empty copy of bench/gpu and run the check on the CPU with the small
  # residual fixture: proves the bundle holds everything the check imports.
  self=$(mktemp -d)
  mkdir -p "$self/bench/gpu" "$self/models"
  cp bench/gpu/check.mjs "$self/bench/gpu/"
  tar -C "$self" -xJf .gpu/bundle.tar.xz
  cp test/fixtures/models/resnet-mini.onnx "$self/models/"
  node --input-type=module -e "
    import { writeFileSync } from 'node:fs';
    import { encodeNpy } from '$PWD/dist/io/npy.js';
    const x = Float32Array.from({ length: 256 * 784 }, (_, i) => Math.sin(i * 12.9898) * 0.5);
    writeFileSync('$self/models/data.npy', encodeNpy(x, [256, 1, 28, 28]));
  "
  (cd "$self" && GPU_CHECK_MODELS=resnet-mini GPU_CHECK_REPS=2 GPU_CHECK_ROWS=64 ./node/bin/node bench/gpu/check.mjs models cpu)
  rm -rf "$self"
fi
