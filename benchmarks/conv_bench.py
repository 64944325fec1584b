"""Speed of the conv layers: seconds per epoch of 1080 images 64x64x3, mini-batches of 64, Adam.

    .venv/bin/python benchmarks/conv_bench.py [--rounds 5] [--threads 1 2] [--json PATH] [--no-torch]

Nets: the course's SIGNS ConvNet (conv 4x4x3x8 same -> relu -> maxpool 8 -> conv 2x2x8x16 same ->
relu -> maxpool 4 -> flatten -> dense 6, no conv biases) and a heavier one (conv 3x3x3x32 same ->
relu -> maxpool 2 -> conv 3x3x32x64 same -> relu -> maxpool 2 -> dense 6). Rows: scratchnet in
float32 and float64; PyTorch CPU with the same architecture, batch and thread count, in NCHW and
channels_last; the course's four loops (benchmarks/course_conv.py: a few images forward and
backward, scaled to the epoch); the bare GEMM time of the conv layers' own matrix products
(recorded during an epoch, then replayed alone on fresh operands of the same shapes and layouts).
Rounds run the cases one after another (round robin), so a slow spell of the shared machine hits
all alike; each figure is the median over rounds. 1-thread figures are this process's CPU seconds
(time.process_time), 2-thread ones wall-clock seconds; the load average is printed beside them.
The images are uniform random pixels (the speed does not depend on them: the SIGNS loader is the
data layer's). Peak memory: tracemalloc's peak over one epoch, above what was held before it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for benchmarks.course_conv

from benchmarks import course_conv as course  # noqa: E402
from scratchnet.nn import Adam, fit, from_specs  # noqa: E402
from scratchnet.nn.rewrites import relu_after_max_pool  # noqa: E402

M, SIZE, BATCH, CLASSES = 1080, 64, 64, 6
SIGNS = [{"type": "conv2d", "filters": 8, "f": 4, "padding": "same", "bias": False}, "relu",
         {"type": "maxpool2d", "f": 8, "stride": 8},
         {"type": "conv2d", "filters": 16, "f": 2, "padding": "same", "bias": False}, "relu",
         {"type": "maxpool2d", "f": 4, "stride": 4}, "flatten", {"type": "dense", "units": CLASSES}]
HEAVY = [{"type": "conv2d", "filters": 32, "f": 3, "padding": "same"}, "relu", {"type": "maxpool2d", "f": 2},
         {"type": "conv2d", "filters": 64, "f": 3, "padding": "same"}, "relu", {"type": "maxpool2d", "f": 2},
         "flatten", {"type": "dense", "units": CLASSES}]
NETS = {"signs": (SIGNS, 0.009), "heavy": (HEAVY, 0.001)}  # (specs, Adam's lr)
GOALS = {"f32_vs_torch_best": 1.0, "f32_rewritten_vs_torch_best": 1.0, "f64_speedup_vs_torch_f64": 3.0,
         "vs_loops": 500.0, "vs_bare_gemm": 1.5, "heavy_vs_torch_f32": 1.2, "heavy_rewritten_vs_torch_f32": 1.2}


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    return rng.rand(M, SIZE, SIZE, 3), rng.randint(0, CLASSES, (1, M))


# -- the cases: each a callable running one epoch ----------------------------------------------------

def ours(net_name: str, dtype: str, X, Y, rewrite: bool = False):
    """One epoch of fit() on a network kept across rounds (it trains on); `rewrite` swaps each
    relu -> maxpool pair (nn.rewrites: the same numbers, the relu on the pool's output)."""
    specs, lr = NETS[net_name]
    specs = relu_after_max_pool(specs) if rewrite else specs
    net = from_specs((SIZE, SIZE, 3), specs, output="softmax", initializer="glorot_uniform", rng=0, dtype=dtype)
    Xd, optimizer, rng = X.astype(dtype), Adam(lr), np.random.RandomState(1)
    return lambda: fit(net, Xd, Y, optimizer=optimizer, epochs=1, batch_size=BATCH, rng=rng)


def torch_net(torch, net_name: str):
    nn = torch.nn
    if net_name == "signs":
        return nn.Sequential(nn.Conv2d(3, 8, 4, padding="same", bias=False), nn.ReLU(), nn.MaxPool2d(8, 8),
                             nn.Conv2d(8, 16, 2, padding="same", bias=False), nn.ReLU(), nn.MaxPool2d(4, 4),
                             nn.Flatten(), nn.Linear(64, CLASSES))
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 16 * 64, CLASSES))


def pytorch(torch, net_name: str, dtype: str, layout: str, X, Y):
    """The same epoch in PyTorch: shuffled mini-batches, cross-entropy, Adam; NCHW or channels_last."""
    tdtype = getattr(torch, dtype)
    net = torch_net(torch, net_name).to(tdtype)
    Xt = torch.tensor(X, dtype=tdtype).permute(0, 3, 1, 2).contiguous()  # (m, C, H, W)
    if layout == "channels_last":
        net = net.to(memory_format=torch.channels_last)
        Xt = Xt.contiguous(memory_format=torch.channels_last)
    Yt = torch.tensor(Y.ravel(), dtype=torch.long)
    optimizer = torch.optim.Adam(net.parameters(), lr=NETS[net_name][1])
    generator = torch.Generator().manual_seed(1)

    def epoch():
        order = torch.randperm(M, generator=generator)
        for k in range(0, M, BATCH):
            idx = order[k:k + BATCH]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(Xt[idx]), Yt[idx]).backward()
            optimizer.step()

    return epoch


def loops(X, Y, images: int):
    """The course's four-loop layers forward and backward over `images` examples of the SIGNS net;
    returns (callable, scale to the epoch)."""
    rng = np.random.RandomState(0)
    W1, W2 = rng.randn(4, 4, 3, 8) * 0.1, rng.randn(2, 2, 8, 16) * 0.1
    W3 = rng.randn(CLASSES, 64) * 0.1
    Xb, T = X[:images], np.eye(CLASSES)[Y.ravel()[:images]].T
    same4, same2 = {"pad": ((1, 2), (1, 2)), "stride": 1}, {"pad": ((0, 1), (0, 1)), "stride": 1}

    def step():
        Z1, c1 = course.conv_forward(Xb, W1, None, same4)
        P1, p1 = course.pool_forward(np.maximum(Z1, 0), {"f": 8, "stride": 8})
        Z2, c2 = course.conv_forward(P1, W2, None, same2)
        P2, p2 = course.pool_forward(np.maximum(Z2, 0), {"f": 4, "stride": 4})
        F = P2.reshape(images, -1).T
        Z3 = W3 @ F
        A3 = np.exp(Z3 - Z3.max(axis=0)) / np.exp(Z3 - Z3.max(axis=0)).sum(axis=0)
        dF = W3.T @ (A3 - T)
        dZ2 = course.pool_backward(dF.T.reshape(P2.shape), p2) * (Z2 > 0)
        dP1, _, _ = course.conv_backward(dZ2, c2)
        dZ1 = course.pool_backward(dP1, p1) * (Z1 > 0)
        course.conv_backward(dZ1, c1)

    return step, M / images


# -- bare GEMM: the conv layers' own matmuls, recorded and replayed --------------------------------

class _Recorder:
    """Stands for numpy in the conv modules: passes everything through, notes each matmul."""

    def __init__(self, real):
        self._real, self.calls = real, []

    def __getattr__(self, name):
        return getattr(self._real, name)

    def matmul(self, a, b, out=None, **kwargs):
        layout = lambda x: "F" if x.flags.f_contiguous and not x.flags.c_contiguous else "C"  # noqa: E731
        self.calls.append((a.shape, layout(a), b.shape, layout(b), a.dtype.str))
        return self._real.matmul(a, b, out=out, **kwargs)


def record_gemms(net_name: str, dtype: str, X, Y) -> list[tuple]:
    """Every np.matmul the conv layers (and im2col) make in one epoch."""
    from scratchnet.nn import im2col
    from scratchnet.nn.layers import conv

    run = ours(net_name, dtype, X, Y)
    run()  # warm: the first batch keeps rows the later ones stream
    recorder = _Recorder(np)
    conv.np = im2col.np = recorder
    try:
        run()
    finally:
        conv.np = im2col.np = np
    return recorder.calls


def replay(calls: list[tuple]):
    """A callable doing the recorded matmuls alone, on operands made once per shape and layout."""
    rng, made, outs = np.random.RandomState(0), {}, {}

    def operand(shape, layout, dtype):
        key = (shape, layout, dtype)
        if key not in made:
            x = rng.rand(*shape).astype(dtype)
            made[key] = np.asfortranarray(x) if layout == "F" else x
        return made[key]

    def output(shape, dtype):  # apart from the operands, so no product feeds another
        return outs.setdefault((shape, dtype), np.empty(shape, dtype=dtype))

    ops = [(operand(sa, la, dt), operand(sb, lb, dt), output((sa[0], sb[1]), dt)) for sa, la, sb, lb, dt in calls]
    return lambda: [np.matmul(a, b, out=o) for a, b, o in ops]


# -- running -----------------------------------------------------------------------------------------

def time_rounds(cases: dict, rounds: int, threads: int) -> dict:
    """{name: (median CPU s, median wall s)} over `rounds` round-robin passes at `threads` threads."""
    cpu, wall = {k: [] for k in cases}, {k: [] for k in cases}
    for _ in range(rounds):
        for name, (run, scale) in cases.items():
            t0, w0 = time.process_time(), time.perf_counter()
            run()
            cpu[name].append((time.process_time() - t0) * scale)
            wall[name].append((time.perf_counter() - w0) * scale)
    return {k: (statistics.median(cpu[k]), statistics.median(wall[k])) for k in cases}


def peak_memory(net_name: str, dtype: str, X, Y) -> float:
    """tracemalloc's peak during one epoch (after one warm epoch), above what was traced before, MiB."""
    run = ours(net_name, dtype, X, Y)
    run()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def build_cases(torch, threads: int, X, Y, loop_images: int) -> dict:
    cases = {f"scratchnet signs {d}": (ours("signs", d, X, Y), 1.0) for d in ("float32", "float64")}
    cases["scratchnet signs float32 relu after pool"] = (ours("signs", "float32", X, Y, rewrite=True), 1.0)
    for d in ("float32", "float64"):
        cases[f"bare GEMM signs {d}"] = (replay(record_gemms("signs", d, X, Y)), 1.0)
    if torch is not None:
        for d in ("float32", "float64"):
            for layout in ("NCHW", "channels_last"):
                cases[f"pytorch signs {d} {layout}"] = (pytorch(torch, "signs", d, layout, X, Y), 1.0)
    if threads == 1:
        cases["scratchnet heavy float32"] = (ours("heavy", "float32", X, Y), 1.0)
        cases["scratchnet heavy float32 relu after pool"] = (ours("heavy", "float32", X, Y, rewrite=True), 1.0)
        cases["bare GEMM heavy float32"] = (replay(record_gemms("heavy", "float32", X, Y)), 1.0)
        if torch is not None:
            for layout in ("NCHW", "channels_last"):
                cases[f"pytorch heavy float32 {layout}"] = (pytorch(torch, "heavy", "float32", layout, X, Y), 1.0)
        if loop_images:
            cases["course loops signs float64"] = loops(X, Y, loop_images)
    return cases


def goals(t: dict, threads: int) -> dict:
    """The issue's ratios from the medians (CPU seconds at 1 thread, wall seconds at 2)."""
    pick = 0 if threads == 1 else 1
    s = {k: v[pick] for k, v in t.items()}
    out = {}
    torch32 = [s[k] for k in s if k.startswith("pytorch signs float32")]
    torch64 = [s[k] for k in s if k.startswith("pytorch signs float64")]
    if torch32:
        out["f32_vs_torch_best"] = s["scratchnet signs float32"] / min(torch32)
        out["f32_rewritten_vs_torch_best"] = s["scratchnet signs float32 relu after pool"] / min(torch32)
        out["f64_speedup_vs_torch_f64"] = min(torch64) / s["scratchnet signs float64"]
    out["vs_bare_gemm"] = s["scratchnet signs float32"] / s["bare GEMM signs float32"]
    out["vs_bare_gemm_f64"] = s["scratchnet signs float64"] / s["bare GEMM signs float64"]
    if "course loops signs float64" in s:
        out["vs_loops"] = s["course loops signs float64"] / s["scratchnet signs float32"]
        out["vs_loops_f64"] = s["course loops signs float64"] / s["scratchnet signs float64"]
    heavy = [s[k] for k in s if k.startswith("pytorch heavy")]
    if heavy:
        out["heavy_vs_torch_f32"] = s["scratchnet heavy float32"] / min(heavy)
        out["heavy_rewritten_vs_torch_f32"] = s["scratchnet heavy float32 relu after pool"] / min(heavy)
        out["heavy_vs_bare_gemm"] = s["scratchnet heavy float32"] / s["bare GEMM heavy float32"]
    return out


def met(name: str, value: float) -> str:
    goal = GOALS.get(name)
    if goal is None:
        return ""
    lower_is_better = not name.startswith(("f64_speedup", "vs_loops"))
    ok = value <= goal if lower_is_better else value >= goal
    return f"goal {'<=' if lower_is_better else '>='} {goal:g}: {'met' if ok else 'NOT met'}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--loop-images", type=int, default=4, help="images the course's loops run (0: skip)")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch is not installed (pip install -e '.[bench]'): PyTorch rows skipped")
    X, Y = data()
    report = {"load_before": os.getloadavg(), "cpus": os.cpu_count(), "numpy": np.__version__,
              "torch": getattr(torch, "__version__", None), "rounds": args.rounds, "threads": {}}
    for threads in args.threads:
        with threadpool_limits(threads):
            if torch is not None:
                torch.set_num_threads(threads)
            times = time_rounds(build_cases(torch, threads, X, Y, args.loop_images), args.rounds, threads)
            ratios = goals(times, threads)
        report["threads"][threads] = {"seconds": {k: {"cpu": c, "wall": w} for k, (c, w) in times.items()},
                                      "ratios": ratios, "load": os.getloadavg()}
        print(f"\n{threads} thread(s), load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"seconds per epoch (median of {args.rounds}), {'CPU' if threads == 1 else 'wall'} time counts")
        for name, (c, w) in times.items():
            print(f"  {name:40s} cpu {c:9.3f}   wall {w:9.3f}")
        for name, value in ratios.items():
            print(f"  {name:26s} {value:9.2f}   {met(name, value)}")
    with threadpool_limits(1):
        report["peak_MiB"] = {f"{n} {d}": peak_memory(n, d, X, Y) for n in NETS for d in ("float32", "float64")}
    print("\npeak memory of one epoch above the data (tracemalloc, 1 thread): "
          + ", ".join(f"{k} {v:.0f} MiB" for k, v in report["peak_MiB"].items()))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
