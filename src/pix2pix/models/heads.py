"""Feature heads: PatchNCE's projection of sampled feature patches (Park et al., 2020, CUT)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_head


class PatchSampleMLP(nn.Module):
    """For each feature map: sample patch positions, project each patch's feature vector with a
    two-layer MLP (one per map), and L2-normalise it.

    ``forward(features, patches, positions=None)`` returns (projections (B * P, width) per map, the
    positions used): the positions of the input image's features are reused for the output's, so
    that patch i of one is compared with patch i of the other.
    """

    def __init__(self, *, channels: list[int], width: int = 256) -> None:
        super().__init__()
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(c, width), nn.ReLU(), nn.Linear(width, width)) for c in channels)

    def forward(self, features: list[torch.Tensor], patches: int,
                positions: list[torch.Tensor] | None = None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        projected, used = [], []
        for index, (feature, mlp) in enumerate(zip(features, self.mlps)):
            b, c, h, w = feature.shape
            flat = feature.permute(0, 2, 3, 1).reshape(b, h * w, c)  # (B, H*W, C)
            if positions is None:
                ids = torch.randperm(h * w, device=feature.device)[: min(patches, h * w)]
            else:
                ids = positions[index]
            sample = flat[:, ids, :].reshape(-1, c)  # (B * P, C)
            projected.append(F.normalize(mlp(sample.float()), dim=1))
            used.append(ids)
        return projected, used


@register_head("patch_mlp")
def patch_mlp(*, channels: list[int], width: int = 256) -> nn.Module:
    """CUT's netF (mlp_sample): one 2-layer MLP of ``width`` per feature map."""
    return PatchSampleMLP(channels=channels, width=width)
