"""Learning-rate schedules by config name: lr of epoch `epoch` (0-based) from the initial lr0."""

from __future__ import annotations

import math

from scratchnet.nn.optimizers import positive


class ConstantLR:
    """lr = lr0."""

    def __call__(self, lr0: float, epoch: int) -> float:
        return lr0


class InverseTimeDecay:
    """lr = lr0 / (1 + decay_rate * epoch) (the course's update_lr, written its way for its exact values)."""

    def __init__(self, decay_rate: float):
        self.decay_rate = positive("decay_rate", decay_rate)

    def __call__(self, lr0: float, epoch: int) -> float:
        return 1 / (1 + self.decay_rate * epoch) * lr0


class StepDecay:
    """lr = lr0 / (1 + decay_rate * floor(epoch / interval)) (the course's schedule_lr_decay)."""

    def __init__(self, decay_rate: float, interval: int = 1000):
        self.decay_rate = positive("decay_rate", decay_rate)
        if int(interval) != interval or interval < 1:
            raise ValueError(f"interval must be an integer >= 1; got {interval}")
        self.interval = int(interval)

    def __call__(self, lr0: float, epoch: int) -> float:
        return 1 / (1 + self.decay_rate * math.floor(epoch / self.interval)) * lr0


SCHEDULES = {"constant": ConstantLR, "inverse_time": InverseTimeDecay, "step": StepDecay}


def make_schedule(name: str, **kwargs):
    """A learning-rate schedule by its config name ("constant", "inverse_time", "step")."""
    if name not in SCHEDULES:
        raise ValueError(f"lr schedule must be one of {tuple(SCHEDULES)}; got {name!r}")
    return SCHEDULES[name](**kwargs)
