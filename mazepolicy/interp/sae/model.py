"""Sparse autoencoders on activations: ReLU + L1 or TopK, unit-norm decoder rows, and an
auxiliary loss that gives dead features a gradient (AuxK, Gao et al. 2024).

``x`` is (B, d_in): one sample per spatial position (a conv map's channel vector, so the
SAE is a 1x1 convolution shared across positions) or one per whole map (C * H * W).

    f = act(W_enc^T (x - b_dec) + b_enc)        (B, d_sae) feature activations
    x_hat = f @ W_dec + b_dec                   (B, d_in), rows of W_dec unit norm

Example:
    >>> import torch
    >>> sae = SparseAutoencoder(SAEConfig(d_in=8, d_sae=32, kind="topk", k=4))
    >>> x = torch.randn(5, 8)
    >>> out = sae(x)
    >>> out.features.shape, int((out.features > 0).sum(1).max()) <= 4
    (torch.Size([5, 32]), True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

KINDS = ("relu", "topk")
LAYOUTS = ("position", "map")


@dataclass(frozen=True)
class SAEConfig:
    """Architecture and training settings of one SAE (saved in its card)."""

    d_in: int
    d_sae: int
    kind: str = "topk"  # "relu" (L1 penalty) or "topk" (exactly k active features)
    k: int = 8  # active features per sample (topk)
    l1_coeff: float = 1e-3  # L1 weight (relu), on activations times decoder norms
    aux_k: int = 64  # dead features used by the auxiliary loss
    aux_coeff: float = 1 / 32  # weight of the auxiliary loss
    dead_after: int = 2000  # samples-batches without firing after which a feature is dead
    lr: float = 1e-3
    batch_size: int = 1024
    steps: int = 5000
    seed: int = 0
    layer: str = ""
    layout: str = "position"  # "position" (1x1 conv, C-dim samples) or "map" (C*H*W)
    checkpoint_every: int = 500

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown SAE kind {self.kind!r}; choose from {KINDS}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown sample layout {self.layout!r}; choose from {LAYOUTS}")
        for name in ("d_in", "d_sae", "k", "batch_size", "steps", "checkpoint_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an int >= 1, got {getattr(self, name)!r}")
        if self.kind == "topk" and self.k > self.d_sae:
            raise ValueError(f"k = {self.k} exceeds d_sae = {self.d_sae}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class SAEOutput(NamedTuple):
    reconstruction: torch.Tensor  # (B, d_in)
    features: torch.Tensor  # (B, d_sae), >= 0
    pre_activations: torch.Tensor  # (B, d_sae)


class SparseAutoencoder(nn.Module):
    """See the module doc. Decoder rows are kept unit norm by :meth:`normalize_decoder`
    (after every optimizer step), so a feature's activation is its size along its
    dictionary direction."""

    def __init__(self, config: SAEConfig):
        super().__init__()
        self.config = config
        gen = torch.Generator().manual_seed(config.seed)
        decoder = torch.randn(config.d_sae, config.d_in, generator=gen)
        decoder = decoder / decoder.norm(dim=1, keepdim=True)
        self.W_dec = nn.Parameter(decoder)  # (d_sae, d_in)
        self.W_enc = nn.Parameter(decoder.T.clone())  # (d_in, d_sae), tied at init
        self.b_enc = nn.Parameter(torch.zeros(config.d_sae))
        self.b_dec = nn.Parameter(torch.zeros(config.d_in))

    def encode_pre(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.b_dec) @ self.W_enc + self.b_enc  # (B, d_sae)

    def activate(self, pre: torch.Tensor) -> torch.Tensor:
        if self.config.kind == "relu":
            return torch.relu(pre)
        top = pre.topk(self.config.k, dim=1)
        return torch.zeros_like(pre).scatter(1, top.indices, torch.relu(top.values))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Feature activations (B, d_sae) of samples (B, d_in)."""
        return self.activate(self.encode_pre(x))

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        return features @ self.W_dec + self.b_dec

    def forward(self, x: torch.Tensor) -> SAEOutput:
        pre = self.encode_pre(x)
        features = self.activate(pre)
        return SAEOutput(self.decode(features), features, pre)

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        self.W_dec /= self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-8)

    def losses(self, x: torch.Tensor, dead: torch.Tensor | None = None) -> dict:
        """``mse`` (mean over samples of the squared error summed over dims, divided by
        d_in), the sparsity term (``l1``, relu only) and ``aux``: how well the
        ``aux_k`` most active dead features (``dead``: bool (d_sae,)) reconstruct the
        residual error; ``total`` combines them."""
        cfg = self.config
        out = self(x)
        error = x - out.reconstruction
        mse = error.pow(2).mean()
        terms = {"mse": mse}
        total = mse
        if cfg.kind == "relu":
            terms["l1"] = out.features.sum(1).mean()
            total = total + cfg.l1_coeff * terms["l1"]
        if dead is not None and dead.any():
            k = min(cfg.aux_k, int(dead.sum()))
            pre = out.pre_activations.masked_fill(~dead, float("-inf"))
            top = pre.topk(k, dim=1)
            aux_features = torch.zeros_like(pre).scatter(1, top.indices, torch.relu(top.values))
            aux = (error.detach() - aux_features @ self.W_dec).pow(2).mean()
            terms["aux"] = aux
            total = total + cfg.aux_coeff * aux
        terms["total"] = total
        return terms
