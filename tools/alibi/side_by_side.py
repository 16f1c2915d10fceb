"""Side-by-side of ckawatch and alibi-detect 0.13.0 on the same features and digit streams.

Streams come from `npx tsx tools/alibi/export-streams.ts` (the validation harness's split,
seed and scenarios). Features are digits-cnn's, computed here with onnxruntime on the same
input the daemon feeds the model (float32 [N, 1, 28, 28] in [0, 1], no scaling), at
`/pool2/MaxPool_output_0` (flattened, 400) and `logits` (10). Then, with alibi-detect
(pytorch backend, CPU, one thread):

  MMDDrift        p_val 0.05, default permutations (100), RBF with its default bandwidth
                  (median heuristic on the reference); N reference samples; test windows
                  of W = 64 consecutive rows (64 distinct digits each): power per scenario
                  and false-positive rate on clean held-out windows.
  MMDDriftOnline  ERT, window size, N reference samples, n_bootstraps 2,500 (its default,
                  1,000, raises for ERT = 2,000: a 0.9995-quantile needs more samples; 2,000
                  still raises after the 64 window steps discard some):
                  detection delay after a change (clean held-out samples, then a drifted
                  stream) and false alarms per 1,000 samples of a long clean stream (reset
                  after each alarm, as the ERT is defined from a reset).

ckawatch's figures are read from docs/validation/results.json (tools/validate.ts; same
split, seed and scenarios; thresholds calibrated for alpha = 5% per window).

  .venv-alibi/bin/python tools/alibi/side_by_side.py --data /tmp/ckawatch-alibi \
      --json docs/validation/alibi.json --md docs/validation/alibi.md
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

import alibi_detect  # noqa: E402
from alibi_detect.cd import MMDDrift, MMDDriftOnline  # noqa: E402

LAYERS = {"pool2": "/pool2/MaxPool_output_0", "logits": "logits"}
NATURAL_ONCE = "control: the natural shift's digits, each once"
CLEAN_REPEATS = "control: clean, a random held-out subset of that size, drawn with repeats like the natural stream"
BLOCK = 64


def features(model_path: str, arrays: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """{array name: {layer short name: float32 [rows, features]}} from one ORT session."""
    model = onnx.load(model_path)
    outputs = {o.name for o in model.graph.output}
    for tensor in LAYERS.values():
        if tensor not in outputs:
            model.graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    names = list(LAYERS.values())
    result: dict[str, dict[str, np.ndarray]] = {}
    for key, x in arrays.items():
        parts: dict[str, list[np.ndarray]] = {k: [] for k in LAYERS}
        for start in range(0, len(x), 1024):
            outs = session.run(names, {input_name: x[start:start + 1024]})
            for k, o in zip(LAYERS, outs):
                parts[k].append(o.reshape(len(o), -1).astype(np.float32))
        result[key] = {k: np.concatenate(v) for k, v in parts.items()}
    return result


def ckawatch_figures(path: str, scenarios: list[str]) -> dict:
    """mmd2_rbf (and the other statistics) per layer from the validation run: power of one
    batch of 64, false-alarm rate of one batch, delays of the 4-batch window in samples."""
    r = json.load(open(path))
    out: dict = {"options": r["options"], "layers": {}}
    clean1 = next(c for c in r["clean"] if c["length"] == 1)
    clean4 = next(c for c in r["clean"] if c["length"] == r["options"]["windowBatches"])
    for short, tensor in LAYERS.items():
        per: dict = {}
        for statistic in ("cka", "mmd2_linear", "mmd2_rbf"):
            cells = {c["scenario"]: c for c in r["detection"] if c["layer"] == tensor and c["statistic"] == statistic}
            per[statistic] = {
                "fpr_w64": clean1["alarms"][tensor][statistic] / clean1["windows"],
                "clean_windows_w64": clean1["windows"],
                "fpr_4_batches": clean4["alarms"][tensor][statistic] / clean4["windows"],
                "scenarios": {
                    s: {
                        "power_w64": cells[s]["power"].get("1"),
                        "delays_samples": [None if d is None else d * r["options"]["n"] for d in cells[s]["delays"]],
                    }
                    for s in scenarios if s in cells
                },
            }
        out["layers"][short] = per
    return out


def run_mmd(ref: np.ndarray, windows: dict[str, np.ndarray], count: int, say) -> dict:
    """MMDDrift on `count` windows of 64 from every stream."""
    t0 = time.perf_counter()
    cd = MMDDrift(ref, backend="pytorch", p_val=0.05, device="cpu")
    setup = time.perf_counter() - t0
    res: dict = {"setup_s": setup, "sigma": float(cd._detector.kernel.sigma.detach().cpu().numpy().ravel()[0]), "streams": {}}
    times = []
    for name, x in windows.items():
        flags, pvals = [], []
        for w in range(count):
            t = time.perf_counter()
            p = cd.predict(x[w * BLOCK:(w + 1) * BLOCK])
            times.append(time.perf_counter() - t)
            flags.append(int(p["data"]["is_drift"]))
            pvals.append(float(p["data"]["p_val"]))
        res["streams"][name] = {"windows": count, "rejections": int(sum(flags)), "rate": float(np.mean(flags)),
                                "median_p": float(np.median(pvals))}
        say(f"    {name}: {np.mean(flags):.2f}")
    res["window_s"] = {"median": float(np.median(times)), "mean": float(np.mean(times))}
    return res


def run_online(ref: np.ndarray, clean: np.ndarray, drifted: dict[str, np.ndarray], ert: float, window: int,
               runs: int, fa_samples: int, cap: int, n_bootstraps: int, rng: np.random.Generator, say) -> dict:
    t0 = time.perf_counter()
    cd = MMDDriftOnline(ref, ert=ert, window_size=window, backend="pytorch", device="cpu", verbose=False,
                        n_bootstraps=n_bootstraps)
    setup = time.perf_counter() - t0
    step_times: list[float] = []

    def step(x: np.ndarray) -> bool:
        t = time.perf_counter()
        p = cd.predict(x)
        step_times.append(time.perf_counter() - t)
        return bool(p["data"]["is_drift"])

    # (a) false alarms on a long clean stream: passes over the shuffled held-out set; reset after each alarm
    alarms, since, run_lengths = 0, 0, []
    cd.reset_state()
    order = np.concatenate([rng.permutation(len(clean)) for _ in range(fa_samples // len(clean) + 1)])[:fa_samples]
    t_fa = time.perf_counter()
    for i in order:
        since += 1
        if step(clean[i]):
            alarms += 1
            run_lengths.append(since)
            since = 0
            cd.reset_state()
    fa = {"samples": fa_samples, "alarms": alarms, "per_1000": 1000 * alarms / fa_samples,
          "run_lengths": run_lengths, "wall_s": time.perf_counter() - t_fa}
    say(f"    false alarms: {alarms} in {fa_samples} samples")

    # (b) delays: per run, a reset, 2W clean samples (redrawn if they alarm), then drifted samples from a random offset
    prefix = 2 * window
    delays: dict = {}
    for name, x in drifted.items():
        ds, prefix_alarms = [], 0
        for _ in range(runs):
            while True:
                cd.reset_state()
                pre = rng.choice(len(clean), prefix, replace=False)
                if not any(step(clean[i]) for i in pre):
                    break
                prefix_alarms += 1
            start = int(rng.integers(len(x)))
            d = None
            for j in range(cap):
                if step(x[(start + j) % len(x)]):
                    d = j + 1
                    break
            ds.append(d)
        found = [d for d in ds if d is not None]
        delays[name] = {"delays": ds, "median": float(np.median(found)) if len(found) * 2 > len(ds) else None,
                        "min": min(found) if found else None, "max": max(found) if found else None,
                        "detected_runs": len(found), "prefix_alarms": prefix_alarms}
        say(f"    {name}: {ds}")
    return {"ert": ert, "window_size": window, "n_bootstraps": cd._detector.n_bootstraps, "setup_s": setup,
            "false_alarms": fa, "delays": delays, "cap": cap, "clean_prefix": prefix,
            "step_s": {"median": float(np.median(step_times)), "mean": float(np.mean(step_times))}}


def pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.0f}%"


def markdown(res: dict) -> str:
    a = res["args"]
    L: list[str] = []
    ck_o = res["ckawatch"]["options"]
    L.append("# ckawatch and alibi-detect, side by side\n")
    L.append(f"Run on {res['date']} on {res['machine']} (one thread: torch.set_num_threads(1), onnxruntime intra-op 1). "
             + (f"{res['wall_s']:.0f} s in all. " if res.get("wall_s") else "") + f"Versions: alibi-detect {res['versions']['alibi_detect']}, "
             f"torch {res['versions']['torch']} (CPU), onnxruntime {res['versions']['onnxruntime']}, onnx {res['versions']['onnx']}, "
             f"numpy {res['versions']['numpy']}, Python {res['versions']['python']}. ckawatch figures: "
             f"[results.json](results.json) (`npx tsx tools/validate.ts`).\n")
    L.append("Same digits, same split, same scenarios: `tools/alibi/export-streams.ts` writes the validation harness's "
             f"seeded split (seed {res['manifest']['seed']}: {res['manifest']['reference_rows']} reference, "
             f"{res['manifest']['heldout_rows']} held-out digits) and its streams (windows of 64 distinct held-out digits, "
             "clean or drifted by the harness's own scenario code). Same features: digits-cnn's `/pool2/MaxPool_output_0` "
             "(400, flattened) and `logits` (10), from the same unscaled [0, 1] input the daemon feeds the model, computed "
             "with onnxruntime in Python.\n")
    L.append("What differs by design: alibi-detect's detectors get N reference samples (a seeded draw from the reference split) "
             "and test W = 64 samples against all of them (MMDDrift: 100-permutation test at p = 0.05 per window; RBF "
             "bandwidth = median pairwise distance of the reference). ckawatch "
             + (f"compares each batch of n = 64 with a pool of {ck_o.get('pool')} reference samples fixed at start-up "
                "(reference.scheme pool)" if ck_o.get("scheme") == "pool" else
                "compares each batch of n = 64 with m = 64 reference samples drawn afresh from all 5,002 per batch "
                "(reference.scheme draws, the only scheme when these figures were made)")
             + ", with thresholds calibrated for α = 5% per window "
             "(γ = 1 / median squared distance of 256 reference samples), and sums batches into windows.\n")
    L.append("## Power of one window of 64 (N = reference samples), α = 5%\n")
    mmd_runs = res["mmd"]
    cols = [(f"alibi MMDDrift N={r['n_ref']}", r) for r in mmd_runs]
    for layer in LAYERS:
        L.append(f"### {layer}\n")
        head = "| stream | " + " | ".join(c for c, _ in cols) + " | ckawatch mmd2_rbf | ckawatch mmd2_linear | ckawatch cka |"
        L.append(head)
        L.append("| --- |" + " ---: |" * (len(cols) + 3))
        ck = res["ckawatch"]["layers"][layer]
        names = ["clean"] + res["scenarios"]
        for s in names:
            row = [f"clean held-out (false-positive rate)" if s == "clean" else s]
            for _, r in cols:
                st = r["layers"].get(layer, {"streams": {}})["streams"].get(s)
                row.append("not run" if st is None else f"{pct(st['rate'])} ({st['windows']})")
            for statistic in ("mmd2_rbf", "mmd2_linear", "cka"):
                if s == "clean":
                    row.append(f"{pct(ck[statistic]['fpr_w64'])} ({ck[statistic]['clean_windows_w64']})")
                else:
                    row.append(pct(ck[statistic]["scenarios"].get(s, {}).get("power_w64")))
            L.append("| " + " | ".join(row) + " |")
        L.append("")
    L.append("Numbers in brackets: windows tested. ckawatch's power is over the windows of one batch holding only drifted "
             "samples in its validation run (5 onsets × 20 batches = 100 windows), its false-positive rate over 800 clean "
             "one-batch windows.\n")
    for r in mmd_runs:
        for layer in [x for x in LAYERS if x in r["layers"]]:
            lr = r["layers"][layer]
            L.append(f"- MMDDrift N={r['n_ref']} {layer}: set-up {lr['setup_s']:.2f} s, {1000 * lr['window_s']['median']:.0f} ms "
                     f"per window of 64 (median), bandwidth σ = {lr['sigma']:.3g}.")
    L.append("")
    L.append("## Online: detection delay at a fixed false-alarm rate\n")
    for o in res["online"]:
        L.append(f"### MMDDriftOnline ERT = {o['ert']:.0f}, window {o['window_size']}, N = {o['n_ref']}\n")
        L.append("| stream | " + " | ".join(f"{layer}: delay median (range), detected runs" for layer in LAYERS) + " |")
        L.append("| --- |" + " ---: |" * len(LAYERS))
        fa_row = ["clean: false alarms per 1,000 samples (alarms / samples)"]
        for layer in LAYERS:
            fa = o["layers"][layer]["false_alarms"]
            fa_row.append(f"{fa['per_1000']:.2f} ({fa['alarms']} / {fa['samples']})")
        L.append("| " + " | ".join(fa_row) + " |")
        for s in res["online_scenarios"]:
            row = [s]
            for layer in LAYERS:
                d = o["layers"][layer]["delays"].get(s)
                if d is None:
                    row.append("not run")
                else:
                    med = "median not reached" if d["median"] is None else f"{d['median']:.0f}"
                    rng_ = "" if d["min"] is None else f" ({d['min']}–{d['max']})"
                    row.append(f"{med}{rng_}, {d['detected_runs']}/{len(d['delays'])}")
            L.append("| " + " | ".join(row) + " |")
        L.append("")
        for layer in LAYERS:
            lo = o["layers"][layer]
            L.append(f"- {layer}: set-up (threshold bootstrap, {lo['n_bootstraps']} bootstraps) {lo['setup_s']:.1f} s; "
                     f"{1000 * lo['step_s']['median']:.2f} ms per sample (median), i.e. "
                     f"{64 * lo['step_s']['median'] * 1000:.0f} ms per 64 samples; the clean-stream false-alarm run took "
                     f"{lo['false_alarms']['wall_s']:.0f} s.")
        L.append("")
    ck = res["ckawatch"]
    L.append("### ckawatch (validation run, 4-batch window judged after every batch of 64)\n")
    L.append("| stream | " + " | ".join(f"{layer} mmd2_rbf: delay median (range), detected onsets" for layer in LAYERS) + " |")
    L.append("| --- |" + " ---: |" * len(LAYERS))
    row = ["clean: false-positive rate per 4-batch window (α = 5%)"]
    for layer in LAYERS:
        row.append(pct(ck["layers"][layer]["mmd2_rbf"]["fpr_4_batches"]))
    L.append("| " + " | ".join(row) + " |")
    for s in res["online_scenarios"]:
        row = [s]
        for layer in LAYERS:
            ds = ck["layers"][layer]["mmd2_rbf"]["scenarios"].get(s, {}).get("delays_samples", [])
            found = [d for d in ds if d is not None]
            if not ds:
                row.append("—")
            elif len(found) * 2 <= len(ds):
                row.append(f"median not reached, {len(found)}/{len(ds)}")
            else:
                row.append(f"{np.median(found):.0f} ({min(found)}–{max(found)}), {len(found)}/{len(ds)}")
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append("ckawatch's delays are in samples (batches × 64: it judges at the end of each batch, so 64 is its smallest "
             "delay), 5 onsets each, watched for 20 batches (1,280 samples); alibi's are per sample, "
             f"{a['online_runs']} runs each, watched for {a['cap']} samples. alibi's runs start from a reset followed by "
             "2 × window clean held-out samples (a run whose clean prefix alarmed is redrawn; counted as prefix_alarms in the "
             "JSON); ckawatch's start after a full window of clean batches. \"Median not reached\": half or fewer of the runs "
             "alarmed within the watch (the range is over those that did).\n")
    L.append("The operating points are close but not equal: ERT = 2,000 is 0.5 false alarms per 1,000 samples from a reset; "
             "ckawatch's α = 5% per 4-batch window, judged every 64 samples, is at most 0.05 × 1000/64 ≈ 0.78 alarming "
             "judgements per 1,000 clean samples (consecutive judgements share 3 of 4 batches, so alarms come in runs and "
             "fewer separate alarms).\n")
    L.append("## Commands\n")
    L.append("```sh")
    L.append("npx tsx tools/alibi/export-streams.ts --out /tmp/ckawatch-alibi --seed 1 --windows " + str(res["manifest"]["windows"]))
    L.append("python3.11 -m venv .venv-alibi && .venv-alibi/bin/pip install -r tools/alibi/requirements.txt")
    L.append(".venv-alibi/bin/python " + shlex.join(res["argv"]))
    if res.get("online_run"):
        L.append(".venv-alibi/bin/python " + shlex.join(res["online_run"]["argv"]) + "   # the online part, alongside")
    for extra in res.get("mmd_runs", []):
        L.append(".venv-alibi/bin/python " + shlex.join(extra["argv"]) + "   # MMDDrift on one layer, alongside")
    for extra in res.get("extra_runs", []):
        L.append(".venv-alibi/bin/python " + shlex.join(extra["argv"]) + "   # the online controls")
    L.append("```\n")
    if res.get("notes"):
        L.append("## Notes\n")
        for n in res["notes"]:
            L.append(f"- {n}")
        L.append("")
    return "\n".join(L)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/tmp/ckawatch-alibi")
    ap.add_argument("--model", default="test/fixtures/models/digits-cnn.onnx")
    ap.add_argument("--ckawatch", default="docs/validation/results.json")
    ap.add_argument("--json", default="docs/validation/alibi.json")
    ap.add_argument("--md", default="docs/validation/alibi.md")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-ref", type=int, nargs="+", default=[1000], help="MMDDrift reference sizes")
    ap.add_argument("--windows", type=int, default=100, help="MMDDrift windows of 64 per stream")
    ap.add_argument("--large-windows", type=int, default=None, help="windows per stream for N > 1000 (default: --windows)")
    ap.add_argument("--large-scenarios", nargs="*", default=None, help="scenarios for N > 1000 (default: all)")
    ap.add_argument("--online-n-ref", type=int, default=1000)
    ap.add_argument("--ert", type=float, nargs="+", default=[2000.0])
    ap.add_argument("--online-window", type=int, nargs="+", default=[64])
    ap.add_argument("--online-runs", type=int, default=10)
    ap.add_argument("--online-scenarios", nargs="*", default=None, help="default: all")
    ap.add_argument("--n-bootstraps", type=int, default=2500,
                    help="MMDDriftOnline threshold bootstraps (its default, 1000, is refused for ERT 2,000)")
    ap.add_argument("--skip-mmd", action="store_true")
    ap.add_argument("--skip-online", action="store_true")
    ap.add_argument("--mmd-layers", nargs="+", default=list(LAYERS), choices=list(LAYERS))
    ap.add_argument("--merge-mmd", action="append", default=[],
                    help="with --md-only: add the MMDDrift layers of this JSON (a --mmd-layers run of the same data)")
    ap.add_argument("--online-controls", action="store_true",
                    help="add two online streams: the natural shift's digits each once, and a clean random subset of "
                         "the held-out digits of the same size drawn with repeats the way the natural stream is")
    ap.add_argument("--merge-online-extra", action="append", default=[],
                    help="with --md-only: add the online streams of this JSON that the others lack")
    ap.add_argument("--fa-samples", type=int, default=20000)
    ap.add_argument("--cap", type=int, default=1280, help="drifted samples watched per online run")
    ap.add_argument("--note", action="append", default=[])
    ap.add_argument("--md-only", action="store_true", help="only rewrite --md from --json (its notes become the --note given)")
    ap.add_argument("--refresh-ckawatch", action="store_true",
                    help="with --md-only: read ckawatch's figures again from --ckawatch (after a new tools/validate.ts run)")
    ap.add_argument("--merge-online", default=None,
                    help="with --md-only: take the online results from this JSON (a --skip-mmd run of the same data)")
    a = ap.parse_args()
    if a.md_only:
        res = json.load(open(a.json))
        if a.refresh_ckawatch:
            res["ckawatch"] = ckawatch_figures(a.ckawatch, res["scenarios"])
        res.pop("extra_runs", None)  # a rerun merges them again
        res.pop("mmd_runs", None)
        if a.merge_online:
            other = json.load(open(a.merge_online))
            res["online"], res["online_scenarios"] = other["online"], other["online_scenarios"]
            res["online_run"] = {"argv": other["argv"], "wall_s": other["wall_s"], "date": other["date"]}
            res["args"]["online_runs"], res["args"]["cap"] = other["args"]["online_runs"], other["args"]["cap"]
        for extra in a.merge_mmd:
            other = json.load(open(extra))
            for match in other["mmd"]:
                run = next((x for x in res["mmd"] if x["n_ref"] == match["n_ref"]), None)
                if run is None:
                    res["mmd"].append(match)
                else:
                    run["layers"].update({k: v for k, v in match["layers"].items() if k not in run["layers"]})
            res.setdefault("mmd_runs", []).append({"argv": other["argv"], "wall_s": other.get("wall_s")})
        for extra in a.merge_online_extra:
            other = json.load(open(extra))
            for o in res["online"]:
                match = next(x for x in other["online"] if x["ert"] == o["ert"] and x["window_size"] == o["window_size"])
                for layer in LAYERS:
                    o["layers"][layer]["delays"].update(
                        {k: v for k, v in match["layers"][layer]["delays"].items() if k not in o["layers"][layer]["delays"]})
            res["online_scenarios"] += [s for s in other["online_scenarios"] if s not in res["online_scenarios"]]
            res.setdefault("extra_runs", []).append({"argv": other["argv"], "controls": other.get("controls")})
        res["notes"] = a.note
        json.dump(res, open(a.json, "w"), indent=1)
        open(a.md, "w").write(markdown(res))
        return
    started = time.perf_counter()
    say = lambda m: print(m, flush=True)  # noqa: E731

    manifest = json.load(open(os.path.join(a.data, "manifest.json")))
    files = {f["name"]: f for f in manifest["files"]}
    scenarios = [f["name"] for f in manifest["files"] if f["file"].startswith("drift-")]
    arrays = {"reference": np.load(os.path.join(a.data, "reference.npy")),
              "heldout": np.load(os.path.join(a.data, "heldout.npy")),
              "clean": np.load(os.path.join(a.data, "clean.npy"))}
    for s in scenarios:
        arrays[s] = np.load(os.path.join(a.data, files[s]["file"]))
    t = time.perf_counter()
    feats = features(a.model, arrays)
    say(f"features of {sum(len(x) for x in arrays.values())} images in {time.perf_counter() - t:.1f} s")
    del arrays

    res: dict = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "versions": {"alibi_detect": alibi_detect.__version__, "torch": torch.__version__, "onnxruntime": ort.__version__,
                     "onnx": onnx.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "argv": sys.argv, "args": vars(a),
        "manifest": {"seed": manifest["seed"], "windows": manifest["windows"], "reference_rows": files["reference split"]["rows"],
                     "heldout_rows": files["held-out production split"]["rows"]},
        "layers": LAYERS, "scenarios": scenarios, "notes": a.note,
    }
    res["ckawatch"] = ckawatch_figures(a.ckawatch, scenarios)

    def reference(layer: str, n: int, salt: int) -> np.ndarray:
        ref = feats["reference"][layer]
        idx = np.random.default_rng([a.seed, n, salt]).choice(len(ref), n, replace=False)
        return ref[np.sort(idx)]

    res["mmd"] = []
    for n in ([] if a.skip_mmd else a.n_ref):
        large = n > 1000
        count = (a.large_windows or a.windows) if large else a.windows
        names = ["clean"] + (a.large_scenarios if large and a.large_scenarios is not None else scenarios)
        run: dict = {"n_ref": n, "layers": {}}
        for layer in a.mmd_layers:
            say(f"MMDDrift N={n} {layer}")
            torch.manual_seed(a.seed)
            run["layers"][layer] = run_mmd(reference(layer, n, 0), {s: feats[s][layer] for s in names}, count, say)
        res["mmd"].append(run)
        json.dump(res, open(a.json, "w"), indent=1)

    if a.skip_online:
        res["wall_s"] = time.perf_counter() - started
        json.dump(res, open(a.json, "w"), indent=1)
        say(f"done in {res['wall_s']:.0f} s")
        return
    online_scenarios = list(scenarios if a.online_scenarios is None else a.online_scenarios)
    if a.online_controls:
        natural = next(s for s in scenarios if s.startswith("natural"))
        crng = np.random.default_rng([a.seed, 99])
        for layer in LAYERS:
            _, first = np.unique(feats[natural][layer], axis=0, return_index=True)
            feats.setdefault(NATURAL_ONCE, {})[layer] = feats[natural][layer][crng.permutation(first)]
        k = len(first)
        subset = crng.choice(len(feats["heldout"]["pool2"]), k, replace=False)
        rows = np.concatenate([crng.choice(subset, BLOCK, replace=False) for _ in range(len(feats[natural]["pool2"]) // BLOCK)])
        feats[CLEAN_REPEATS] = {layer: feats["heldout"][layer][rows] for layer in LAYERS}
        res["controls"] = {"natural_unique_digits": int(k)}
        online_scenarios += [NATURAL_ONCE, CLEAN_REPEATS]
    res["online_scenarios"] = online_scenarios
    res["online"] = []
    for ert in a.ert:
        for w in a.online_window:
            o: dict = {"ert": ert, "window_size": w, "n_ref": a.online_n_ref, "layers": {}}
            for layer in LAYERS:
                say(f"MMDDriftOnline ERT={ert:.0f} W={w} {layer}")
                torch.manual_seed(a.seed)
                rng = np.random.default_rng([a.seed, w, int(ert), 1])
                o["layers"][layer] = run_online(reference(layer, a.online_n_ref, 1), feats["heldout"][layer],
                                                {s: feats[s][layer] for s in online_scenarios}, ert, w, a.online_runs,
                                                a.fa_samples, a.cap, a.n_bootstraps, rng, say)
            res["online"].append(o)
            json.dump(res, open(a.json, "w"), indent=1)

    res["wall_s"] = time.perf_counter() - started
    json.dump(res, open(a.json, "w"), indent=1)
    open(a.md, "w").write(markdown(res))
    say(f"done in {res['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
