#!/usr/bin/env python3
"""The Python side of bench/compare.ts (tooling only: torch, torchvision, onnx, torch-cka 0.21).

  export     randomly initialised torchvision resnet18 (seed 0) and resnet34 (seed 1), eval mode,
             exported to ONNX at --size px with a dynamic batch (the export code of
             tools/parity/resnet_parity.py: TorchScript exporter, opset 17, shape inference) as
             .cache/bench/resnet{18,34}-<size>px.onnx; the data (held-out digits upsampled to --size,
             3 channels, ImageNet mean/std) as .cache/bench/digits-<images>-<size>px.npy; and the
             layers (maxpool, every BasicBlock output, avgpool, fc: 11 x 19) with their ONNX tensor
             names, verified against torch forward hooks, in .cache/bench/layers-<size>px.json.
             Files already there are reused.
  serve      loads those models, layers and data with --threads torch threads (inter-op 1), then
             answers one command a line on stdin with one JSON line on stdout, so that bench/compare.ts
             can interleave its rounds with ours:
               bare       both torch forward passes over every batch, no hooks (context)
               cka        torch_cka 0.21 CKA(...).compare(DataLoader(batch_size, shuffle=False)) under
                          torch.no_grad(), its matrix (NaN cells as null) and its abort message if any
               reference  the float64 reference of the same minibatch estimator (forward hooks,
                          float64 Grams, unbiased HSIC1 summed over batches)
               quit
             Times: wall seconds and process CPU seconds (all threads).

    .venv/bin/python bench/compare_torch_cka.py export --size 112 --images 256
    printf 'bare\ncka\nquit\n' | .venv/bin/python bench/compare_torch_cka.py serve --size 112 --batch-size 64 --threads 2
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tools', 'fixtures'))
sys.path.insert(0, os.path.join(HERE, '..', 'tools', 'parity'))
import fixturelib as L  # noqa: E402
import resnet_parity as P  # noqa: E402

CACHE = os.path.join(L.REPO, '.cache', 'bench')
SEEDS = {'resnet18': 0, 'resnet34': 1}


def paths(args) -> dict:
    return {
        'resnet18': os.path.join(CACHE, f'resnet18-{args.size}px.onnx'),
        'resnet34': os.path.join(CACHE, f'resnet34-{args.size}px.onnx'),
        'data': os.path.join(CACHE, f'digits-{args.images}-{args.size}px.npy'),
        'layers': os.path.join(CACHE, f'layers-{args.size}px.json'),
    }


def models():
    import torch
    import torchvision
    out = {}
    for tag, ctor in (('resnet18', torchvision.models.resnet18), ('resnet34', torchvision.models.resnet34)):
        torch.manual_seed(SEEDS[tag])
        out[tag] = ctor(weights=None).eval()
    return out


def data(args) -> np.ndarray:
    import torch
    digits = np.load(P.FIXTURE_DATA)[:args.images]
    if len(digits) < args.images:
        raise SystemExit(f'{P.FIXTURE_DATA} holds {len(digits)} digits; ask for at most that many --images')
    with torch.no_grad():
        up = torch.nn.functional.interpolate(torch.from_numpy(digits), size=(args.size, args.size), mode='bilinear',
                                             align_corners=False)
    x = up.repeat(1, 3, 1, 1).numpy()
    x = (x - P.IMAGENET_MEAN[None, :, None, None]) / P.IMAGENET_STD[None, :, None, None]
    return np.ascontiguousarray(x.astype(np.float32))


def export(args) -> None:
    import onnx
    p = paths(args)
    os.makedirs(CACHE, exist_ok=True)
    x = data(args)
    if not os.path.exists(p['data']):
        np.save(p['data'], x)
    ms = models()
    record = {'size': args.size, 'images': args.images, 'seeds': SEEDS}
    for tag, key in (('resnet18', 'model1'), ('resnet34', 'model2')):
        if not os.path.exists(p[tag]):
            L.log(f'exporting {tag} at {args.size} px -> {L.rel(p[tag])}')
            L.export_onnx(ms[tag], x[:2], p[tag], opset=17, dynamic_batch=True)
        modules = P.resnet_layers(ms[tag])
        m = onnx.load(p[tag])
        recs = L.map_modules(m, ms[tag], modules, x[:4])
        L.verify_mapping(m, ms[tag], recs, x[:4], tol=1e-5, batch_size=4)
        record[f'{key}_name'] = tag
        record[f'{key}_onnx'] = p[tag]
        record[f'{key}_layers'] = modules
        record[f'{key}_onnx_layers'] = [r['tensor'] for r in recs]
    record['data'] = p['data']
    L.write_json(p['layers'], record)
    print(json.dumps(record))


class Contender:
    """The torch side, loaded once: bare forward passes, torch_cka, and the float64 reference."""

    def __init__(self, args):
        import torch
        from torch.utils.data import DataLoader, TensorDataset
        L.set_threads(args.threads)
        p = paths(args)
        self.torch = torch
        self.x = np.load(p['data'])
        with open(p['layers']) as f:
            self.layers = json.load(f)
        ms = models()
        self.a, self.b = ms['resnet18'], ms['resnet34']
        self.batch_size = args.batch_size
        self.loader = DataLoader(TensorDataset(torch.from_numpy(self.x)), batch_size=args.batch_size, shuffle=False)
        with torch.no_grad():  # warm-up: one batch through both models
            first = torch.from_numpy(self.x[:args.batch_size])
            self.a(first)
            self.b(first)

    def bare(self) -> dict:
        t0, c0 = time.perf_counter(), time.process_time()
        with self.torch.no_grad():
            for (xb,) in self.loader:
                self.a(xb)
                self.b(xb)
        return {'seconds': time.perf_counter() - t0, 'cpu_seconds': time.process_time() - c0}

    def cka(self) -> dict:
        c0 = time.process_time()
        r = L.run_torch_cka(self.a, self.b, self.layers['model1_layers'], self.layers['model2_layers'], self.x,
                            self.batch_size, names=('resnet18', 'resnet34'))
        return {'seconds': r['seconds'], 'cpu_seconds': time.process_time() - c0, 'error': r['error'], 'CKA': r['CKA']}

    def reference(self) -> dict:
        ref = L.reference_cka(self.a, self.b, self.layers['model1_layers'], self.layers['model2_layers'], self.x,
                              self.batch_size)
        return {'CKA': ref.cka()}


def serve(args) -> None:
    """One JSON line per command read from stdin (bare, cka, reference, quit), after a ready line."""
    c = Contender(args)
    print(json.dumps({'ready': True, 'threads': c.torch.get_num_threads(), 'samples': len(c.x),
                      'versions': L.versions()}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == 'quit':
            break
        handler = {'bare': c.bare, 'cka': c.cka, 'reference': c.reference}.get(command)
        out = handler() if handler else {'error': f'unknown command {command!r}'}
        print(json.dumps(out), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('command', choices=['export', 'serve'])
    ap.add_argument('--size', type=int, default=112)
    ap.add_argument('--images', type=int, default=256)
    ap.add_argument('--batch-size', type=int, default=64)
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    export(args) if args.command == 'export' else serve(args)


if __name__ == '__main__':
    main()
