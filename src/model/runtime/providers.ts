import { type Provider, PROVIDERS } from '../../config/vocabulary.js';
/**
 * Execution providers ckawatch can ask onnxruntime-node 1.30 for, and what to tell
 * the user when one cannot be used. On Linux x64 the package bundles 'cpu' and
 * 'webgpu'; 'cuda' and 'tensorrt' need provider libraries fetched at install time
 * (DESIGN.md, "Execution providers").
 */

export function isProvider(name: string): name is Provider {
  return (PROVIDERS as readonly string[]).includes(name);
}

/** How to make a provider that failed to load work, appended to ORT's own reason. */
export function providerHint(provider: Provider, reason: string): string {
  switch (provider) {
    case 'cuda':
    case 'tensorrt':
      return /shared library|cannot open shared object/i.test(reason)
        ? `the ${provider} provider libraries are not installed: run 'npm run install:cuda' (ONNXRUNTIME_NODE_INSTALL=cuda12) ` +
            'on a machine that can reach the download, and install CUDA 12 and cuDNN 9' +
            (provider === 'tensorrt' ? ' and TensorRT 10' : '')
        : `check the CUDA driver and that the GPU is visible (nvidia-smi)`;
    case 'webgpu':
      return /adapter|vulkan/i.test(reason)
        ? 'no WebGPU adapter: install libvulkan1 and the GPU vendor Vulkan driver (for NVIDIA, the GL vendor libraries), ' +
            'and check that the GPU is visible to this container'
        : 'check the GPU driver and Vulkan installation';
    case 'cpu':
      return 'the CPU provider always exists, so the model itself cannot be loaded: check that it runs with onnxruntime in Python';
  }
}

/**
 * What ORT does not tell onnxruntime-node users, said once at start-up so that
 * nobody mistakes "provider loaded" for "everything runs on the GPU".
 */
export function providerCaveat(provider: Provider): string | null {
  switch (provider) {
    case 'cpu':
      return null;
    case 'webgpu':
      return (
        'ONNX Runtime runs nodes the WebGPU provider does not support on the CPU, and Dawn may pick a software ' +
        'Vulkan adapter (lavapipe, SwiftShader) without saying so; neither is visible from Node: if inference is ' +
        'slower than expected, compare with providers: [cpu]'
      );
    default:
      return (
        `ONNX Runtime runs nodes the ${provider} provider does not support on the CPU without telling Node; ` +
        'if inference is slower than expected, compare with providers: [cpu]'
      );
  }
}
