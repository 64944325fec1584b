"""CourseCompat: the course's habit of re-seeding the global generator inside its training loops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CourseCompat:
    """Re-seed as the course does, only to reproduce its published numbers.

    - optimisation notebook, model(): `seed = 10`, then before each epoch `seed = seed + 1` and
      random_mini_batches calls `np.random.seed(seed)`: epoch i is shuffled by
      RandomState(shuffle_seed + 1 + i).permutation(m).
    - regularisation notebook, forward_propagation_with_dropout calls `np.random.seed(1)` at every
      call: every iteration draws the *same* dropout masks, RandomState(dropout_seed).
    - learning-rate decay: the course updates lr after epoch i with decay(lr0, i), so epoch i >= 1
      trains with schedule(lr0, i - 1) (epochs 0 and 1 both use lr0).
    Statistically this is not dropout (a fixed sub-network) and not independent shuffles. The
    default (no CourseCompat) draws everything from the one run generator.

    Like the course's np.random, one generator is re-seeded in place: rng.seed(s) leaves the state
    RandomState(s) starts from, at ~1.5 us where building a RandomState costs ~90 us, which with
    dropout would be paid at every iteration.
    """

    shuffle_seed: int = 10
    dropout_seed: int = 1

    def shuffle_rng(self, epoch: int, rng: np.random.RandomState) -> np.random.RandomState:
        rng.seed(self.shuffle_seed + 1 + epoch)
        return rng

    def dropout_rng(self, rng: np.random.RandomState) -> np.random.RandomState:
        rng.seed(self.dropout_seed)
        return rng

    @staticmethod
    def schedule_epoch(epoch: int) -> int:
        return max(epoch - 1, 0)
