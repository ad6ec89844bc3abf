"""Where a module's parameters live."""

from __future__ import annotations

import torch
from torch import nn


def device_of(module: nn.Module) -> torch.device:
    """The device of ``module``'s first parameter (lstmkit's models keep all on one device)."""
    return next(module.parameters()).device


__all__ = ["device_of"]
