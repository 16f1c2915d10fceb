#!/usr/bin/env bash
# The GPU check as one command on a lent GPU machine (see docs/gpu.md). Expects the
# repository with dist/ built, node_modules, a node binary in .gpu/node (the GPU image has
# none) and, for WebGPU, the Vulkan loader debs in .gl/ (the device README says how).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ -d .gl ]]; then for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
export PATH="$PWD/.gpu/node/bin:$PATH"
node --version
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
python3 bench/gpu/export_resnets.py .gpu/models
node bench/gpu/check.mjs .gpu/models "${1:-cpu,webgpu,cuda}"
