#!/usr/bin/env python3
"""Cross-check of `ckawatch compare` against torch_cka 0.21 and a float64 reference (not run in CI).

Large (default): randomly initialised torchvision resnet18 (seed 0) vs resnet34 (seed 1), eval mode,
exported to ONNX with a dynamic batch (TorchScript exporter, opset 17) under .cache/parity/;
layers: maxpool, every BasicBlock output (the Relu after the residual Add), avgpool, fc
(11 x 19 layers); data: held-out digits from test/fixtures/data/digits-test-256.npy upsampled
(bilinear) to --size px, 3 channels, ImageNet mean/std, written to .cache/parity/ as .npy.
Defaults: 256 images at 224 px, batch 64 (4 batches). CPU only; about 3 to 6 minutes on 1 core
(`--size 112` or `--images 128` for a quicker look).

Small (--small): digits-cnn vs digits-cnn-b from test/fixtures/models over
test/fixtures/data/digits-test-256.npy, the 9 x 9 layers of test/fixtures/parity/torch_cka_digits.json,
batch 32. Seconds.

Steps, both modes:
  1. torch module name -> ONNX tensor name (name scopes), verified with onnxruntime against torch
     forward hooks on a few inputs (max |diff| <= 1e-5 * max(1, max |torch|) per layer)
  2. torch_cka 0.21 CKA(...).compare(DataLoader(TensorDataset(x), batch_size, shuffle=False)) under
     torch.no_grad(); its assertion 'HSIC computation resulted in NANs' is caught and recorded, and the
     matrix it had computed before asserting (cka.hsic_matrix, NaN cells and all) is kept
  3. float64 reference of the same estimator: per batch, unbiased HSIC1 of float64 Grams of the
     float32 torch features; CKA = sum xy / sqrt(sum xx * sum yy)
  4. node dist/cli/main.js compare --model-a A.onnx --model-b B.onnx --data X.npy --layers-a ... \
         --layers-b ... --batch-size B --out result.json
     then max |ckawatch - reference| and max |ckawatch - torch_cka| (cells where torch_cka has a number)

Writes .cache/parity/report-<small|large>.json. Exit status: 0 all checks passed; 1 ckawatch beyond
--tol of the reference (or undefined where the reference is defined); 2 the CLI is not built or failed
(everything else is still computed and reported).

    . .venv/bin/activate && python tools/parity/resnet_parity.py --small
    . .venv/bin/activate && python tools/parity/resnet_parity.py            # the large check
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'fixtures'))
import fixturelib as L  # noqa: E402

CACHE = os.path.join(L.REPO, '.cache', 'parity')
FIXTURE_DATA = os.path.join(L.REPO, 'test', 'fixtures', 'data', 'digits-test-256.npy')
FIXTURE_MODELS = os.path.join(L.REPO, 'test', 'fixtures', 'models')
FIXTURE_PARITY = os.path.join(L.REPO, 'test', 'fixtures', 'parity', 'torch_cka_digits.json')
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def resnet_layers(model) -> list:
    """maxpool, every BasicBlock (its output is the Relu after the residual Add), avgpool, fc."""
    from torchvision.models.resnet import BasicBlock
    blocks = [n for n, mod in model.named_modules() if isinstance(mod, BasicBlock)]
    return ['maxpool'] + blocks + ['avgpool', 'fc']


def large_setup(args):
    import torch
    import torchvision
    os.makedirs(CACHE, exist_ok=True)
    models = {}
    for tag, ctor, seed in (('resnet18', torchvision.models.resnet18, args.seed_a),
                            ('resnet34', torchvision.models.resnet34, args.seed_b)):
        torch.manual_seed(seed)
        models[tag] = ctor(weights=None).eval()
    data_path = os.path.join(CACHE, f'digits-{args.images}-{args.size}px.npy')
    digits = np.load(FIXTURE_DATA)
    if args.images > len(digits):
        per_digit = L.load_digits()
        _, _, test_x, test_y, _ = L.split_digits(per_digit)
        digits = test_x[L.balanced_selection(test_y, args.images, 256)]
    digits = digits[:args.images]
    with torch.no_grad():
        up = torch.nn.functional.interpolate(torch.from_numpy(digits), size=(args.size, args.size), mode='bilinear',
                                             align_corners=False)
    x = up.repeat(1, 3, 1, 1).numpy()
    x = ((x - IMAGENET_MEAN[None, :, None, None]) / IMAGENET_STD[None, :, None, None]).astype(np.float32)
    x = np.ascontiguousarray(x)
    np.save(data_path, x)
    L.log(f'data: {L.rel(data_path)} {list(x.shape)} (digits upsampled to {args.size} px, 3 channels, ImageNet mean/std)')
    paths = {}
    for tag, model in models.items():
        path = os.path.join(CACHE, f'{tag}-seed{args.seed_a if tag == "resnet18" else args.seed_b}.onnx')
        L.log(f'exporting {tag} -> {L.rel(path)} ({L.EXPORTER}, opset 17, dynamic batch)')
        L.export_onnx(model, x[:2], path, opset=17, dynamic_batch=True)
        paths[tag] = path
    a, b = models['resnet18'], models['resnet34']
    return dict(name_a='resnet18', name_b='resnet34', model_a=a, model_b=b, path_a=paths['resnet18'],
                path_b=paths['resnet34'], layers_a=resnet_layers(a), layers_b=resnet_layers(b), x=x, data_path=data_path)


def small_setup(args):
    with open(FIXTURE_PARITY) as f:
        fixture = json.load(f)
    path_a = os.path.join(FIXTURE_MODELS, 'digits-cnn.onnx')
    path_b = os.path.join(FIXTURE_MODELS, 'digits-cnn-b.onnx')
    for p in (path_a, path_b, FIXTURE_DATA):
        if not os.path.exists(p):
            raise SystemExit(f'missing {p}: run tools/fixtures/make_fixtures.py')
    a = L.load_torch_weights_from_onnx(L.make_digits_cnn(), path_a)
    b = L.load_torch_weights_from_onnx(L.make_digits_cnn(), path_b)
    return dict(name_a='digits-cnn', name_b='digits-cnn-b', model_a=a, model_b=b, path_a=path_a, path_b=path_b,
                layers_a=fixture['model1_layers'], layers_b=fixture['model2_layers'], x=np.load(FIXTURE_DATA),
                data_path=FIXTURE_DATA, fixture=fixture)


def run_ckawatch(args, s, tensors_a, tensors_b, out_path):
    cli = os.path.abspath(args.cli)
    node = shutil.which('node')
    if node is None:
        return None, 'node is not on PATH'
    if not os.path.exists(cli):
        return None, (f'the ckawatch CLI is not built: {cli} does not exist. Build it with `npm run build` in '
                      f'{L.REPO} (or pass --cli PATH), then rerun this script.')
    if os.path.exists(out_path):
        os.remove(out_path)
    cmd = [node, cli, 'compare', '--model-a', s['path_a'], '--model-b', s['path_b'], '--data', s['data_path'],
           '--layers-a', ','.join(tensors_a), '--layers-b', ','.join(tensors_b), '--batch-size', str(args.batch_size),
           '--out', out_path]
    L.log('running: ' + ' '.join(cmd))
    try:
        proc = subprocess.run(cmd, cwd=L.REPO, timeout=args.cli_timeout)
    except subprocess.TimeoutExpired:
        return None, f'ckawatch compare did not finish within {args.cli_timeout} s'
    if proc.returncode != 0:
        return None, f'ckawatch compare exited with status {proc.returncode}'
    if not os.path.exists(out_path):
        return None, f'ckawatch compare exited 0 but wrote no {out_path}'
    with open(out_path) as f:
        result = json.load(f)
    missing = [k for k in ('model1_layers', 'model2_layers', 'CKA') if k not in result]
    if missing:
        return None, f'{out_path} lacks keys {missing} (has {sorted(result)})'
    cka = result['CKA']
    rows_a, cols_b = list(result['model1_layers']), list(result['model2_layers'])
    if rows_a != list(tensors_a) or cols_b != list(tensors_b):
        # reorder by name if the CLI listed the same layers in another order
        if sorted(rows_a) == sorted(tensors_a) and sorted(cols_b) == sorted(tensors_b):
            cka = [[cka[rows_a.index(ta)][cols_b.index(tb)] for tb in tensors_b] for ta in tensors_a]
            L.log('note: ckawatch listed the layers in another order; reordered by name')
        else:
            return None, f'ckawatch layers {rows_a} / {cols_b} are not the ones asked for'
    if len(cka) != len(tensors_a) or any(len(r) != len(tensors_b) for r in cka):
        return None, f'ckawatch CKA is not {len(tensors_a)} x {len(tensors_b)}'
    return {'CKA': cka, 'batch_size': result.get('batch_size'), 'batches': result.get('batches')}, None


def fmt(v):
    return 'n/a' if v is None else f'{v:.3e}'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--small', action='store_true', help='digits-cnn vs digits-cnn-b from the committed fixtures')
    ap.add_argument('--images', type=int, default=256, help='large mode: number of images (default 256)')
    ap.add_argument('--size', type=int, default=224, help='large mode: image side in px (default 224)')
    ap.add_argument('--batch-size', type=int, default=None, help='default 64 (large), 32 (small)')
    ap.add_argument('--seed-a', type=int, default=0)
    ap.add_argument('--seed-b', type=int, default=1)
    ap.add_argument('--cli', default=os.path.join(L.REPO, 'dist', 'cli', 'main.js'))
    ap.add_argument('--cli-timeout', type=int, default=3600)
    ap.add_argument('--tol', type=float, default=1e-4, help='max |ckawatch - reference| allowed (default 1e-4)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--skip-torch-cka', action='store_true')
    ap.add_argument('--torch-cka-grad', action='store_true',
                    help='run torch_cka as a user would, without torch.no_grad() (much more memory)')
    ap.add_argument('--out-dir', default=CACHE)
    args = ap.parse_args()
    if args.batch_size is None:
        args.batch_size = 32 if args.small else 64

    import torch
    L.set_threads(args.threads)
    L.log(f'resnet_parity ({"small" if args.small else "large"}): {L.versions()}')
    s = small_setup(args) if args.small else large_setup(args)
    x = s['x']
    import onnx
    ma, mb = onnx.load(s['path_a']), onnx.load(s['path_b'])
    probe = x[:4]
    rec_a = L.map_modules(ma, s['model_a'], s['layers_a'], probe)
    rec_b = L.map_modules(mb, s['model_b'], s['layers_b'], probe)
    ver_a = L.verify_mapping(ma, s['model_a'], rec_a, probe, tol=1e-5, batch_size=len(probe))
    ver_b = L.verify_mapping(mb, s['model_b'], rec_b, probe, tol=1e-5, batch_size=len(probe))
    tensors_a = [r['tensor'] for r in rec_a]
    tensors_b = [r['tensor'] for r in rec_b]
    L.log(f'mapping verified on {len(probe)} inputs: max rel |onnxruntime - torch| {ver_a["max_rel_diff"]:.1e} / '
          f'{ver_b["max_rel_diff"]:.1e}')
    for tag, recs in (('A', rec_a), ('B', rec_b)):
        for r in recs:
            print(f'    {tag} {r["module"]:<12} -> {r["tensor"]}')
    batches = -(-len(x) // args.batch_size)
    if len(x) % args.batch_size and len(x) % args.batch_size < 4:
        L.log(f'warning: last batch has {len(x) % args.batch_size} samples (< 4): unbiased HSIC is undefined there')

    torch_cka = None
    if not args.skip_torch_cka:
        L.log(f'torch_cka 0.21: {len(s["layers_a"])} x {len(s["layers_b"])} layers, batch {args.batch_size}, {batches} batches'
              f'{"" if args.torch_cka_grad else " (under torch.no_grad())"}')
        torch_cka = L.run_torch_cka(s['model_a'], s['model_b'], s['layers_a'], s['layers_b'], x, args.batch_size,
                                    names=(s['name_a'], s['name_b']), no_grad=not args.torch_cka_grad)
        nan = sum(v is None for row in (torch_cka['CKA'] or []) for v in row)
        L.log(f'torch_cka: {torch_cka["error"] or "finished"} in {torch_cka["seconds"]:.1f}s; '
              f'{nan} of {len(s["layers_a"]) * len(s["layers_b"])} cells NaN')

    L.log('float64 reference')
    ref = L.reference_cka(s['model_a'], s['model_b'], s['layers_a'], s['layers_b'], x, args.batch_size)
    ref_cka = ref.cka()
    neg = [f'{s["layers_a"][i]}: {v:.3g}' for i, v in enumerate(ref.xx) if v <= 0] + \
          [f'{s["layers_b"][j]}: {v:.3g}' for j, v in enumerate(ref.yy) if v <= 0]
    report = {
        'mode': 'small' if args.small else 'large',
        'model_a': {'name': s['name_a'], 'onnx': s['path_a']},
        'model_b': {'name': s['name_b'], 'onnx': s['path_b']},
        'data': {'file': s['data_path'], 'shape': list(x.shape)},
        'batch_size': args.batch_size, 'batches': ref.batches,
        'model1_layers': s['layers_a'], 'model2_layers': s['layers_b'],
        'model1_onnx_layers': tensors_a, 'model2_onnx_layers': tensors_b,
        'mapping_verification': {'a': {k: v for k, v in ver_a.items() if k != 'per_layer'},
                                 'b': {k: v for k, v in ver_b.items() if k != 'per_layer'}},
        'reference_float64': {'CKA': ref_cka, 'hsic_xx_sum': ref.xx.tolist(), 'hsic_yy_sum': ref.yy.tolist(),
                              'nonpositive_self_hsic': neg},
        'torch_cka': torch_cka,
        'versions': L.versions(),
    }
    if torch_cka and torch_cka['CKA']:
        d, n = L.max_abs_diff(torch_cka['CKA'], ref_cka)
        report['max_abs_diff_torch_cka_vs_reference'] = d
        L.log(f'max |torch_cka - reference| = {fmt(d)} over {n} cells where torch_cka has a number')
    if 'fixture' in s:
        d, _ = L.max_abs_diff(s['fixture']['reference_float64']['CKA'], ref_cka)
        report['max_abs_diff_reference_vs_committed_fixture'] = d
        L.log(f'max |reference - committed fixture reference| = {fmt(d)}')

    status = 0
    out_json = os.path.join(args.out_dir, f'ckawatch-{report["mode"]}.json')
    os.makedirs(args.out_dir, exist_ok=True)
    cw, problem = run_ckawatch(args, s, tensors_a, tensors_b, out_json)
    if problem:
        L.log(f'SKIPPED ckawatch comparison: {problem}')
        report['ckawatch'] = {'skipped': problem}
        status = 2
    else:
        d_ref, n_ref = L.max_abs_diff(cw['CKA'], ref_cka)
        undefined = [(s['layers_a'][i], s['layers_b'][j]) for i, row in enumerate(cw['CKA']) for j, v in enumerate(row)
                     if v is None and ref_cka[i][j] is not None]
        report['ckawatch'] = {'CKA': cw['CKA'], 'batch_size': cw['batch_size'], 'batches': cw['batches'],
                              'max_abs_diff_vs_reference': d_ref, 'cells_compared': n_ref,
                              'null_where_reference_defined': undefined}
        L.log(f'max |ckawatch - reference| = {fmt(d_ref)} over {n_ref} cells (tolerance {args.tol:g})')
        if torch_cka and torch_cka['CKA']:
            d_tc, n_tc = L.max_abs_diff(cw['CKA'], torch_cka['CKA'])
            report['ckawatch']['max_abs_diff_vs_torch_cka'] = d_tc
            L.log(f'max |ckawatch - torch_cka| = {fmt(d_tc)} over {n_tc} cells where torch_cka has a number')
        if cw['batches'] is not None and cw['batches'] != ref.batches:
            L.log(f'FAIL: ckawatch reports {cw["batches"]} batches, the reference used {ref.batches}')
            status = 1
        if undefined:
            L.log(f'FAIL: ckawatch gives null for {len(undefined)} cells the reference defines, e.g. {undefined[:3]}')
            status = 1
        if d_ref is None or d_ref > args.tol:
            L.log(f'FAIL: max |ckawatch - reference| {fmt(d_ref)} > {args.tol:g}')
            status = 1
    path = os.path.join(args.out_dir, f'report-{report["mode"]}.json')
    L.write_json(path, report)
    L.log(f'wrote {path}')
    L.log({0: 'PASS', 1: 'FAIL', 2: 'INCOMPLETE (ckawatch not compared)'}[status])
    sys.exit(status)


if __name__ == '__main__':
    main()
