"""The optimiser and the learning-rate schedule of the `train` config."""

from __future__ import annotations

import math

import torch
from torch import nn


def make_optimizer(net: nn.Module, cfg) -> torch.optim.Optimizer:
    optimizers = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}
    return optimizers[cfg.optimizer](net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(optimizer, cfg, higher_is_better: bool, steps_per_epoch: int):
    """The learning-rate schedule: cosine, plateau or none.

    cosine steps once per optimizer step s = 0, 1, ..., with W = warmup_epochs * steps_per_epoch
    and T = max_epochs * steps_per_epoch:

    .. math::
        \\mathrm{lr}_s = \\mathrm{lr} \\cdot \\begin{cases}
            (s + 1) / W & s < W \\\\
            \\tfrac12 \\left(1 + \\cos(\\pi (s - W) / (T - W))\\right) & s \\ge W
        \\end{cases}

    so the first step uses lr / W, the last warm-up step lr, and the last step nearly 0.

    plateau steps once per evaluation round: the LR is multiplied by `plateau_factor` (not below
    `min_lr`) after `plateau_patience` rounds in which the monitored value has not beaten its
    reference by more than `plateau_threshold` (null: `min_delta`), absolute or, with
    `plateau_threshold_mode: rel`, relative (best * (1 -+ threshold)). `plateau_monitor`: select
    watches the selection metric (its direction), loss the loss of the selection split (min), as
    GraphGPS-style codes step on the validation loss.
    """
    if cfg.scheduler == "cosine":
        # Per step rather than per epoch (the published protocols leave it open): the warm-up then
        # starts near 0 instead of at lr / warmup_epochs, and with W = 0 the first step of each
        # epoch gets exactly the per-epoch value 0.5 (1 + cos(pi epoch / max_epochs)).
        warmup = cfg.warmup_epochs * steps_per_epoch
        total = cfg.max_epochs * steps_per_epoch

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    if cfg.scheduler == "plateau":
        on_loss = cfg.get("plateau_monitor", "select") == "loss"
        threshold = cfg.get("plateau_threshold", None)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer,
            mode="max" if higher_is_better and not on_loss else "min",
            factor=cfg.plateau_factor,
            patience=cfg.plateau_patience,
            threshold=cfg.min_delta if threshold is None else threshold,
            threshold_mode=cfg.get("plateau_threshold_mode", "abs"),
            min_lr=cfg.get("min_lr", 0.0),
        )
        scheduler.monitors_loss = on_loss  # end_epoch steps it on "<split>/loss"
        return scheduler
    return None
