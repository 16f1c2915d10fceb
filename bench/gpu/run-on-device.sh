#!/usr/bin/env bash
# The GPU check as one command on a lent GPU machine (see docs/gpu.md). Expects the
# repository, .gpu/bundle.tar.xz from bench/gpu/pack.sh (node, dist/, runtime packages:
# the GPU image has no Node.js) and, for WebGPU, the Vulkan loader debs in .gl/. Writes
# the log and the numbers as JSON to $OUT when it is set (the device tool's output folder).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-.gpu/out}
mkdir -p "$out"
if [[ -d .gl ]]; then for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
# Where the image mounts the NVIDIA driver's Vulkan and EGL files instead of /usr/share.
if [[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
if [[ -f .gpu/bundle.tar.xz && ! -x .gpu/node/bin/node ]]; then
  # xz may be missing from the image; Python's tarfile reads it either way.
  python3 -c "import tarfile; tarfile.open('.gpu/bundle.tar.xz').extractall('.gpu', filter='tar')"
  rm -rf dist node_modules
  mv .gpu/dist .gpu/node_modules .
fi
export PATH="$PWD/.gpu/node/bin:$PATH"
{
  node --version
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
  python3 bench/gpu/export_resnets.py .gpu/models
  GPU_CHECK_JSON="$out/gpu-check.json" node bench/gpu/check.mjs .gpu/models "${1:-cpu,webgpu,cuda}"
} 2>&1 | tee "$out/gpu-check.log"
