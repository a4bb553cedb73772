"""Sparse autoencoders on the policy's activations: collect (shards with metadata),
train (ReLU + L1 or TopK, unit-norm decoder, AuxK for dead features, resumable) and
analyse (held-out reconstruction, the spliced policy, superposition measures).

Our own small module rather than a library: ``pip install --dry-run overcomplete``
(0.3.0) pulls torch 2.14.1 with its CUDA wheels, torchvision and timm, and
``pip install --dry-run sae-lens`` pulls transformer-lens, transformers, datasets and
pandas (measured 2026-12-01); this package keeps one CPU torch and needs conv maps,
which the model here handles as a 1x1 convolution over positions.

Example:
    >>> from mazepolicy.interp.sae import SAEConfig, SparseAutoencoder
    >>> SparseAutoencoder(SAEConfig(d_in=32, d_sae=128)).W_dec.shape
    torch.Size([128, 32])
"""

from mazepolicy.interp.sae.activations import as_samples, collect_activations, load_shard
from mazepolicy.interp.sae.analysis import analyze_sae
from mazepolicy.interp.sae.metrics import reconstruction_metrics, splice_hook, spliced_kl
from mazepolicy.interp.sae.model import SAEConfig, SparseAutoencoder
from mazepolicy.interp.sae.train import load_sae, shard_batches, tensor_batches, train_sae

__all__ = [
    "SAEConfig",
    "SparseAutoencoder",
    "analyze_sae",
    "as_samples",
    "collect_activations",
    "load_sae",
    "load_shard",
    "reconstruction_metrics",
    "shard_batches",
    "splice_hook",
    "spliced_kl",
    "tensor_batches",
    "train_sae",
]
