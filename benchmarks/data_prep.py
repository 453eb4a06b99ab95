"""Benchmark: per-submission data preparation on real MNIST and CIFAR-10, with and without the batch cache.

    .venv/bin/python benchmarks/data_prep.py [--data-root DIR] [--repeats 3]

Without the data root (and ``$DLGRADER_DATA``) it unpacks ``../shared/datasets`` into a temporary folder.
Each measurement runs in a fresh Python process, as a sandboxed run would, after ``import torch,
torchvision`` (that cost is the same on both paths and is reported separately):

- ``no_cache``: what every run would do without the cache: decode the dataset with torchvision's
  classes, split it, convert and normalise it to float tensors, make the DataLoader, fetch the first batch.
- ``cache``: open the batch cache's memory-mapped files and make the DataLoader (the first batch is fetched).
- ``first``: the batch's one-time cost of the cached path: decode once and write the cache.

It also times one full pass over the training split in batches of 256 on both paths (the cache converts
per batch, so this shows that the saving is not just moved into the loop), and records peak memory.
Figures go to ``benchmarks/results/data_prep.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
DATASETS = {"mnist": "mnist", "cifar10": "cifar10"}

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import numpy as np, torch, torchvision  # noqa: F401
imported = time.perf_counter()
mode, name, root, cache = sys.argv[1:5]
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if mode == "no_cache":
    from grader.data.splits import DatasetOptions, make_splits
    if name == "cifar10":
        class Copy(torchvision.datasets.CIFAR10):  # accepts a re-packed copy, as the grader does
            def _check_integrity(self): return True
            def _load_meta(self): self.classes = []
        make = lambda train: Copy(root, train=train)
    else:
        make = lambda train: torchvision.datasets.MNIST(root, train=train)
    train, test = make(True), make(False)
    data, targets = np.asarray(train.data), np.asarray(train.targets)
    splits = make_splits(targets, np.asarray(test.targets), DatasetOptions())
    x = torch.from_numpy(data[splits.train]).float().div_(255.0)
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()
    dims = [0, 2, 3]
    x = (x - x.mean(dim=dims, keepdim=True)) / x.std(dim=dims, keepdim=True)
    y = torch.from_numpy(targets[splits.train])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=256)
else:
    from grader.data.loaders import open_dataset
    from pathlib import Path
    loader = open_dataset(Path(cache), name).loader("train", batch_size=256, normalize=True)
first = next(iter(loader))
ready = time.perf_counter()
seen = 0
for xb, yb in loader:
    seen += len(yb)
passed = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"import_s": imported - t0, "prep_s": ready - start, "pass_s": passed - ready, "images": seen,
                  "peak_rss_mb": peak / 1024, "rss_after_import_mb": base_rss / 1024}))
"""


def child(mode: str, name: str, root: Path, cache: Path, threads: int) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", CHILD, mode, name, str(root), str(cache)], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_submission(name: str, root: Path, dest: Path) -> float:
    from grader.data import prepare_all
    from grader.spec import DatasetSpec

    start = time.perf_counter()
    prepare_all({name: DatasetSpec(source=name)}, dest, root)
    return time.perf_counter() - start


def data_root(explicit: Path | None, scratch: Path) -> Path:
    if explicit:
        return explicit
    if os.environ.get("DLGRADER_DATA"):
        return Path(os.environ["DLGRADER_DATA"])
    subprocess.run([sys.executable, str(REPO / "scripts" / "prepare_shared_data.py"), str(scratch / "raw")],
                   check=True, stdout=subprocess.DEVNULL)
    return scratch / "raw"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    report: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "threads": args.threads},
        "date": time.strftime("%Y-%m-%d"), "datasets": {}}
    with tempfile.TemporaryDirectory(prefix="bench-data-") as scratch_name:
        scratch = Path(scratch_name)
        root = data_root(args.data_root, scratch)
        import torch

        report["machine"]["torch"] = torch.__version__  # type: ignore[index]
        for name in DATASETS:
            cache = scratch / f"cache-{name}"
            first_s = first_submission(name, root, cache)
            runs = {mode: [child(mode, name, root, cache, args.threads) for _ in range(args.repeats)]
                    for mode in ("no_cache", "cache")}
            summary = {mode: {key: round(statistics.median(r[key] for r in rows), 4)
                              for key in ("import_s", "prep_s", "pass_s", "peak_rss_mb", "rss_after_import_mb")}
                       for mode, rows in runs.items()}
            summary["first_submission_extra_s"] = round(first_s, 3)
            summary["speedup_prep"] = round(summary["no_cache"]["prep_s"] / summary["cache"]["prep_s"], 1)
            summary["images_per_pass"] = runs["cache"][0]["images"]
            report["datasets"][name] = summary  # type: ignore[index]
            print(f"{name}: prep {summary['no_cache']['prep_s']:.3f} s without cache, {summary['cache']['prep_s']:.4f} s "
                  f"with it ({summary['speedup_prep']}x); one-time cache build {first_s:.2f} s", file=sys.stderr)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "data_prep.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "data_prep.md").write_text(render(report))
    print(RESULTS / "data_prep.md")
    return 0


def render(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Per-submission data preparation, with and without the batch cache",
        "",
        f"Measured {report['date']} by `benchmarks/data_prep.py` on {m['cpus']} CPUs, {m['threads']} torch threads, "
        f"torch {m['torch']}, Python {m['python']}; medians of fresh processes. `import torch, torchvision` "
        "(paid by every run on both paths) is listed apart.",
        "",
        "| dataset | path | prep per submission (s) | one pass over train split (s) | peak RSS (MB) | import (s) |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in report["datasets"].items():
        for mode, label in (("no_cache", "decode + normalise (no cache)"), ("cache", "memory-mapped batch cache")):
            r = s[mode]
            lines.append(f"| {name} | {label} | {r['prep_s']:.4f} | {r['pass_s']:.2f} | {r['peak_rss_mb']:.0f} | "
                         f"{r['import_s']:.1f} |")
    lines += ["", "| dataset | speed-up of preparation | one-time cache build per batch (s) | images per pass |",
              "|---|---|---|---|"]
    for name, s in report["datasets"].items():
        lines.append(f"| {name} | {s['speedup_prep']}x | {s['first_submission_extra_s']:.2f} | {s['images_per_pass']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
