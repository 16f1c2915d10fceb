"""Exports randomly initialised torchvision ResNet-18 and ResNet-50 (eval mode, dynamic
batch) to ONNX for bench/gpu/check.mjs. Run where torch is installed (the GPU machine has
it); writes OUT/resnet18.onnx, OUT/resnet50.onnx and OUT/data.npy (float32 images)."""
import sys
from pathlib import Path

import numpy as np
import torch
import torchvision

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".gpu/models")
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
for name in ("resnet18", "resnet50"):
    model = getattr(torchvision.models, name)(weights=None).eval()
    x = torch.randn(2, 3, 224, 224)
    torch.onnx.export(model, (x,), str(out / f"{name}.onnx"), input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=17, dynamo=False)
    print(f"exported {name}", flush=True)
rng = np.random.default_rng(0)
np.save(out / "data.npy", rng.standard_normal((256, 3, 224, 224), dtype=np.float32))
print("wrote data.npy", flush=True)
