"""Weight initialisation as in the papers' code: conv weights ~ N(0, gain), norms ~ N(1, gain)."""

from __future__ import annotations

from torch import nn

from ..errors import ConfigError

INIT_KINDS = ("normal", "xavier", "kaiming", "orthogonal")


def init_weights(net: nn.Module, kind: str = "normal", gain: float = 0.02) -> nn.Module:
    """Initialise conv/linear weights by ``kind``, biases to 0, batch-norm scales ~ N(1, gain)."""
    if kind not in INIT_KINDS:
        raise ConfigError(f"model.init: unknown init '{kind}' (valid: {', '.join(INIT_KINDS)})")
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if kind == "normal":
                nn.init.normal_(module.weight, 0.0, gain)
            elif kind == "xavier":
                nn.init.xavier_normal_(module.weight, gain=gain)
            elif kind == "kaiming":
                nn.init.kaiming_normal_(module.weight, a=0, mode="fan_in")
            else:
                nn.init.orthogonal_(module.weight, gain=gain)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            nn.init.normal_(module.weight, 1.0, gain)
            nn.init.zeros_(module.bias)
    for module in net.modules():  # layers whose init has structure (sub-pixel ICNR) restore it
        if callable(getattr(module, "icnr_", None)):
            module.icnr_()
    return net
