"""The precision policy of a run: float32, or bf16 mixed precision (`amp: bf16`) with every
neighbourhood sum, sparse product and recurrent cell kept in float32 for every model."""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing

from glstm.slstm import SLSTMCell

AMP_DTYPES = {"bf16": torch.bfloat16}


def autocast(device: torch.device, amp: str | None):
    """The forward passes' precision: float32, or with `amp` ("bf16") mixed precision under one
    policy for every model, on every device:

    - bfloat16: the dense maps, i.e. what torch's autocast lowers (linear layers and MLPs,
      projections, attention among a graph's nodes);
    - float32: every neighbourhood aggregation and every state carried from layer to layer,
      that is a PyG ``MessagePassing.propagate`` (messages, their sum and the update), gLSTM's
      sparse products (:mod:`glstm.sparse`, hence its matrix memory) and every recurrent cell
      (torch's ``LSTMCell`` / ``GRUCell`` / ``LSTM`` / ``GRU``, graph sLSTM's cell). These run
      with autocast off and their floating inputs cast to float32 (:func:`float32_under_autocast`,
      which :class:`Network` installs), since CUDA's autocast would run the cells in bfloat16
      and leaves sums in their inputs' precision;
    - float32: the loss and the metrics, computed outside autocast on the predictions cast to
      float32 (:func:`train_epoch`, :func:`evaluate`).
    """
    if amp is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AMP_DTYPES[amp])


FLOAT32_CELLS = (nn.RNNCellBase, nn.RNNBase, SLSTMCell)
_AUTOCAST_OFF: list[str | None] = []  # per float32 call in progress: the device type turned off


def _float32(value):
    """`value` with its half-precision tensors (inside tuples, lists and dicts too) as float32."""
    if isinstance(value, Tensor):
        return value.float() if value.dtype in (torch.bfloat16, torch.float16) else value
    if isinstance(value, tuple | list):
        return type(value)(_float32(v) for v in value)
    if isinstance(value, dict):
        return {k: _float32(v) for k, v in value.items()}
    return value


def _enter_float32(module, *inputs):
    """A pre-hook: autocast off for the call (where it is on), its inputs cast to float32."""
    device_type = next((d for d in ("cuda", "cpu") if torch.is_autocast_enabled(d)), None)
    _AUTOCAST_OFF.append(device_type)
    if device_type is None:
        return None
    torch.set_autocast_enabled(device_type, False)
    return _float32(inputs if len(inputs) > 1 else inputs[0])


def _exit_float32(module, inputs, output):
    """The matching hook after the call: autocast back on where the pre-hook turned it off."""
    device_type = _AUTOCAST_OFF.pop() if _AUTOCAST_OFF else None
    if device_type is not None:
        torch.set_autocast_enabled(device_type, True)


def float32_under_autocast(net: nn.Module) -> nn.Module:
    """Install :func:`autocast`'s float32 islands on `net`'s modules (once each): around each
    PyG layer's ``propagate`` and each recurrent cell's ``forward``. Without autocast they do
    nothing."""
    for module in net.modules():
        if getattr(module, "_float32_under_autocast", False):
            continue
        if isinstance(module, MessagePassing):
            module.register_propagate_forward_pre_hook(_enter_float32)
            module.register_propagate_forward_hook(_exit_float32)
        elif isinstance(module, FLOAT32_CELLS):
            module.register_forward_pre_hook(_enter_float32, with_kwargs=True)
            module.register_forward_hook(_exit_float32, always_call=True)
        else:
            continue
        module._float32_under_autocast = True
    return net
