"""Which epoch a run reports, and when it stops: the selection and staleness rules."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Selection:
    """The selected epoch: the last epoch with the best monitored value (a tie moves it later)."""

    higher_is_better: bool
    best: float | None = None
    epoch: int = 0
    row: dict = field(default_factory=dict)

    def update(self, value: float, row: dict) -> bool:
        """Consider one epoch's history row; returns whether the selection moved to it."""
        sign = 1.0 if self.higher_is_better else -1.0
        if self.best is None or sign * (value - self.best) >= 0:
            self.best, self.epoch, self.row = value, row["epoch"], row
            return True
        return False


@dataclass
class Staleness:
    """Alon & Yahav's stopping rule: `rounds` counts the evaluation rounds since the monitored
    value last beat `reference` by more than `min_delta`. The reference moves only on such a
    gain, so a run that creeps up by less than min_delta per round still goes stale, and one
    whose small gains add up to more than min_delta does not."""

    higher_is_better: bool
    min_delta: float
    reference: float | None = None
    rounds: int = 0

    def update(self, value: float) -> None:
        sign = 1.0 if self.higher_is_better else -1.0
        if self.reference is None or sign * (value - self.reference) > self.min_delta:
            self.reference, self.rounds = value, 0
        else:
            self.rounds += 1
