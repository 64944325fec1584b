"""How much memory a run needs, from its layers' shapes before any weight is drawn, against what the
machine has: a run that cannot fit is refused in one line instead of dying in a MemoryError.

The estimate counts, in the run's dtype: the parameters, their gradients (same size), the
optimizer's state (momentum: one array per parameter, Adam: two), the activations a training pass
keeps for backward (every layer's output, plus two gradient arrays of the widest layer) for the
examples of one pass, and for convolutions the padded input kept for dW and its gradient (the
im2col rows themselves are streamed through chunks of at most nn.im2col.MAX_BUFFER_BYTES, counted
once). The data are already loaded (and counted in what is available). It is an estimate, not a
bound: a run close to the limit may still fail.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from scratchnet.config.images import output_units
from scratchnet.data import Dataset
from scratchnet.nn import Network
from scratchnet.nn import im2col as ic
from scratchnet.nn.network import INFERENCE_CHUNK

ITEM_BYTES = {"float64": 8, "float32": 4}
OPTIMIZER_SLOTS = {"gd": 0, "momentum": 1, "adam": 2}  # state arrays per parameter array
UNLIMITED = 2**60  # cgroup v1 writes "no limit" as a number near 2**63


class NotEnoughMemory(Exception):
    """The run's estimated memory exceeds what the machine has available."""


@dataclass(frozen=True)
class LayerPlan:
    """One layer's size: its parameter count, per-example output shape and conv buffers (elements)."""

    describe: str
    n_parameters: int
    output: tuple[int, ...]
    buffers: int = 0  # per example: a conv layer's padded input and its gradient


@dataclass(frozen=True)
class Estimate:
    """Bytes a run needs, by kind."""

    parameters: int
    gradients: int
    optimizer_state: int
    activations: int
    conv_buffers: int
    examples: int  # examples in the largest pass (the activations' batch)

    @property
    def total(self) -> int:
        return self.parameters + self.gradients + self.optimizer_state + self.activations + self.conv_buffers

    def describe(self) -> str:
        parts = [f"parameters {size(self.parameters)}", f"gradients {size(self.gradients)}",
                 f"optimizer state {size(self.optimizer_state)}",
                 f"activations {size(self.activations)} for {self.examples} examples at a time"]
        if self.conv_buffers:
            parts.append(f"conv buffers {size(self.conv_buffers)}")
        return ", ".join(parts)


def size(n_bytes: float) -> str:
    """1536 -> '1.5 KB' (powers of 1000, as disks and `free -h` round)."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n_bytes) < 1000 or unit == "PB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    raise AssertionError("unreachable")


def dense_plan(layer_dims: list[int], dropout: bool = False) -> list[LayerPlan]:
    """The layers dense_stack builds for layer_dims: dense + activation (+ dropout) per hidden layer,
    then the output dense layer; pure arithmetic, nothing allocated."""
    plan = []
    for i, (n_prev, n) in enumerate(zip(layer_dims[:-1], layer_dims[1:])):
        plan.append(LayerPlan(f"dense {n}", n * n_prev + n, (n,)))
        if i < len(layer_dims) - 2:
            plan.append(LayerPlan("activation", 0, (n,)))
            if dropout:
                plan.append(LayerPlan("dropout", 0, (n,)))
    return plan


def network_plan(network: Network) -> list[LayerPlan]:
    """A built network's layers, through each one's output_shape (conv nets: weights are small,
    the activations and buffers are what a run must check)."""
    plan, shape = [], network.input_shape
    for layer in network.layers:
        out = layer.output_shape(shape)
        buffers = 0
        if layer.type == "conv2d":  # the padded input, kept for dW, and its gradient
            (t, b), (l, r) = ic.padding_amounts(layer.padding, shape[0], shape[1], layer.f, layer.stride)
            buffers = 2 * (shape[0] + t + b) * (shape[1] + l + r) * shape[2]
        plan.append(LayerPlan(layer.describe(), layer.n_parameters, out, buffers))
        shape = out
    return plan


def estimate(plan: list[LayerPlan], *, examples: int, dtype: str, optimizer: str,
             streamed_chunks: int = 0) -> Estimate:
    """The bytes a run of `plan` needs with `examples` in its largest pass."""
    item = ITEM_BYTES[dtype]
    n_parameters = sum(p.n_parameters for p in plan)
    outputs = [math.prod(p.output) for p in plan]
    per_example = sum(outputs) + 2 * max(outputs, default=0)
    return Estimate(parameters=n_parameters * item, gradients=n_parameters * item,
                    optimizer_state=OPTIMIZER_SLOTS[optimizer] * n_parameters * item,
                    activations=per_example * examples * item,
                    conv_buffers=sum(p.buffers for p in plan) * examples * item
                    + streamed_chunks * ic.MAX_BUFFER_BYTES, examples=examples)


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _cgroup_room() -> list[tuple[int, str]]:
    """(limit - usage, which limit) of this process's memory cgroup, v2 and v1, where it is set."""
    found = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        v2 = controllers == ""
        if not v2 and "memory" not in controllers.split(","):
            continue
        base = Path("/sys/fs/cgroup") if v2 else Path("/sys/fs/cgroup/memory")
        limit_file, usage_file = ("memory.max", "memory.current") if v2 else ("memory.limit_in_bytes",
                                                                              "memory.usage_in_bytes")
        for folder in (base / path.lstrip("/"), base):  # inside a container the cgroup is its root
            limit, usage = _read_int(folder / limit_file), _read_int(folder / usage_file)
            if limit is not None and limit < UNLIMITED:
                found.append((max(limit - (usage or 0), 0), f"the cgroup limit {folder / limit_file}"))
                break
    return found


def available() -> tuple[int, str] | None:
    """(bytes this process can still get, where the figure comes from), or None if unknown."""
    found = _cgroup_room()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append((int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def run_estimate(cfg: DictConfig, ds: Dataset, network: Network | None = None) -> Estimate:
    """The estimate for cfg's run on ds: from the built network if given, else from cfg's dense stack."""
    if network is None:
        n_out = output_units(cfg.model.output_activation, len(ds.classes))
        plan = dense_plan([ds.n_features, *cfg.model.hidden, n_out], dropout=cfg.model.keep_prob < 1)
        images = False
    else:
        plan, images = network_plan(network), len(network.input_shape) > 1
    batch = min(cfg.train.batch_size or ds.m_train, ds.m_train)
    # dense nets evaluate the whole training set in one pass; image nets predict in chunks
    examples = max(batch, min(INFERENCE_CHUNK, ds.m_train)) if images else ds.m_train
    return estimate(plan, examples=examples, dtype=str(cfg.dtype), optimizer=str(cfg.optimizer.name),
                    streamed_chunks=sum(1 for p in plan if p.buffers))


def check_memory(cfg: DictConfig, ds: Dataset, network: Network | None = None) -> Estimate:
    """Refuse (NotEnoughMemory) a run whose estimate exceeds the memory available; the estimate."""
    need = run_estimate(cfg, ds, network)
    room = None if os.environ.get("SCRATCHNET_MEMORY_CHECK") == "off" else available()
    if room is not None and need.total > room[0]:
        raise NotEnoughMemory(f"not enough memory: this run needs about {size(need.total)} ({need.describe()}), "
                              f"and the machine has {size(room[0])} available ({room[1]}); use smaller layers "
                              f"(model.hidden){' or a smaller train.batch_size' if network is not None else ''}")
    return need
