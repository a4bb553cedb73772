"""IMPALA-style CNN policy with named hook points, as in the maze-steering research.

The architecture and parameter names follow the research code (train-procgen-pytorch,
as used by Langosco et al. 2022 and Mini et al. 2023), so its ``state_dict`` keys are
the same and research checkpoints load directly. Every intermediate activation passes
through a :class:`~mazepolicy.models.hooks.HookPoint` named after its module path, e.g.
``embedder.block2.res1.resadd_out`` (the research's hook names).

Input: uint8 frames (N, 64, 64, 3) NHWC as the env gives them (numpy arrays or
tensors, everywhere frames are taken: ``policy(obs)``, ``run_with_cache``, ``act``,
``distribution``); converted to float / 255
and NCHW inside, as the research's ``ScaledFloatFrame`` + ``TransposeFrame`` wrappers do.
Float frames are refused (``TypeError``) rather than guessed at, since [0, 1] and
[0, 255] floats look alike; for gradients with respect to pixels, call ``embedder`` on
float NCHW frames in [0, 1] (what ``preprocess`` returns) and the heads on its output.

Initialisation is the research code's: Xavier-uniform for every conv and linear layer
of the body, orthogonal ``fc_policy`` (gain 0.01) and ``fc_value`` (gain 1), zero
biases. (The other common PPO choice, orthogonal gain sqrt(2) for the body, compounds
through the residual blocks: initial values come out around +24 on maze frames against
normalised returns near 1, and PPO then learns to avoid ending episodes, the cheese
included.)

Example:
    >>> import torch
    >>> policy = ImpalaPolicy(scale=1)
    >>> logits, value = policy(torch.zeros(2, 64, 64, 3, dtype=torch.uint8))
    >>> tuple(logits.shape), tuple(value.shape)
    ((2, 15), (2,))
    >>> policy.hook_names()["embedder.block2.res1.resadd_out"]
    (32, 16, 16)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

from mazepolicy.models.hooks import HookedModule, HookPoint


def as_frames(obs: torch.Tensor | np.ndarray, device: torch.device | None = None
              ) -> torch.Tensor:
    """Frames as a tensor on ``device`` (default: a tensor stays where it is, a numpy
    array goes to the CPU, copied only when it is read-only or has negative strides).
    ``TypeError`` for anything else. Shape and dtype are checked by :meth:`ImpalaPolicy.preprocess`.

    Example:
        >>> as_frames(np.zeros((1, 64, 64, 3), np.uint8)[:, ::-1]).dtype
        torch.uint8
    """
    if isinstance(obs, torch.Tensor):
        return obs if device is None else obs.to(device)
    if isinstance(obs, np.ndarray):
        if not obs.flags.writeable or any(stride < 0 for stride in obs.strides):
            obs = obs.copy()
        return torch.from_numpy(obs).to(device) if device is not None else torch.from_numpy(obs)
    raise TypeError(f"expected uint8 frames as a torch.Tensor or numpy array, got "
                    f"{type(obs).__module__}.{type(obs).__name__}")


class ResidualBlock(nn.Module):
    """x + conv2(relu(conv1(relu(x)))), with a hook after every operation.

    Example:
        >>> ResidualBlock(8)(torch.zeros(1, 8, 5, 5)).shape
        torch.Size([1, 8, 5, 5])
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.relu1_out = HookPoint()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1_out = HookPoint()
        self.relu2_out = HookPoint()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2_out = HookPoint()
        self.resadd_out = HookPoint()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C, H, W)
        out = self.relu1_out(torch.relu(x))
        out = self.conv1_out(self.conv1(out))
        out = self.relu2_out(torch.relu(out))
        out = self.conv2_out(self.conv2(out))
        return self.resadd_out(out + x)


class ImpalaBlock(nn.Module):
    """conv3x3 -> maxpool(3, stride 2, pad 1) -> two residual blocks; halves H and W.

    Example:
        >>> ImpalaBlock(3, 16)(torch.zeros(1, 3, 64, 64)).shape
        torch.Size([1, 16, 32, 32])
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv_out = HookPoint()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.maxpool_out = HookPoint()
        self.res1 = ResidualBlock(out_channels)
        self.res2 = ResidualBlock(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, Cin, H, W) -> (N, Cout, H/2, W/2)
        x = self.conv_out(self.conv(x))
        x = self.maxpool_out(self.maxpool(x))
        return self.res2(self.res1(x))


class ImpalaEmbedder(nn.Module):
    """Three IMPALA blocks (16, 32, 32 channels times ``scale``), relu, fc to 256, relu.

    Takes float NCHW frames in [0, 1] (what SB3 feeds its features extractor).

    Example:
        >>> ImpalaEmbedder(scale=1)(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 256])
    """

    def __init__(self, scale: int = 1, in_channels: int = 3) -> None:
        super().__init__()
        self.block1 = ImpalaBlock(in_channels, 16 * scale)
        self.block2 = ImpalaBlock(16 * scale, 32 * scale)
        self.block3 = ImpalaBlock(32 * scale, 32 * scale)
        self.relu3_out = HookPoint()
        self.flatten_out = HookPoint()
        self.fc = nn.Linear(32 * scale * 8 * 8, 256)
        self.fc_out = HookPoint()
        self.relufc_out = HookPoint()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 3, 64, 64) -> (N, 256)
        x = self.block3(self.block2(self.block1(x)))  # (N, 32*scale, 8, 8)
        x = self.relu3_out(torch.relu(x))
        x = self.flatten_out(torch.flatten(x, start_dim=1))  # NCHW order, as the research
        x = self.fc_out(self.fc(x))
        return self.relufc_out(torch.relu(x))


class ImpalaPolicy(HookedModule):
    """Actor-critic IMPALA network: 15 action logits and a value per frame.

    Args:
        scale: width multiplier (1 -> 16/32/32 channels, 4 -> 64/128/128 as in the
            research's maze policies).
        num_actions: size of the action space (15 for Procgen).

    Example:
        >>> import numpy as np
        >>> policy = ImpalaPolicy(scale=1)
        >>> policy.act(np.zeros((4, 64, 64, 3), np.uint8), greedy=True).shape
        (4,)
    """

    input_shape = (64, 64, 3)
    input_dtype = torch.uint8

    def __init__(self, scale: int = 1, num_actions: int = 15) -> None:
        super().__init__()
        for name, value in (("scale", scale), ("num_actions", num_actions)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.scale = int(scale)
        self.num_actions = int(num_actions)
        self.embedder = ImpalaEmbedder(self.scale)
        self.fc_policy = nn.Linear(256, self.num_actions)
        self.fc_policy_out = HookPoint()
        self.fc_value = nn.Linear(256, 1)
        self.fc_value_out = HookPoint()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The research initialisation: Xavier-uniform body, orthogonal heads (policy gain
        0.01, value gain 1), zero biases.

        Example:
            >>> _ = torch.manual_seed(0)
            >>> _, values = ImpalaPolicy()(torch.full((4, 64, 64, 3), 128, dtype=torch.uint8))
            >>> bool(values.abs().max() < 1)  # small initial values
            True
        """
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.orthogonal_(self.fc_policy.weight, gain=0.01)
        nn.init.orthogonal_(self.fc_value.weight, gain=1.0)

    @staticmethod
    def preprocess(obs: torch.Tensor | np.ndarray) -> torch.Tensor:
        """uint8 (N, 64, 64, 3) NHWC -> float (N, 3, 64, 64) in [0, 1].

        ``obs`` is a torch tensor or a numpy array (as the env gives it; converted on
        the CPU: :meth:`forward` moves numpy frames to the policy's device first).

        Example:
            >>> ImpalaPolicy.preprocess(torch.full((1, 64, 64, 3), 255, dtype=torch.uint8)).max()
            tensor(1.)
        """
        obs = as_frames(obs)
        if obs.ndim != 4 or tuple(obs.shape[1:]) != ImpalaPolicy.input_shape:
            raise ValueError(f"expected frames of shape (N, 64, 64, 3), got {tuple(obs.shape)}")
        if obs.dtype != torch.uint8:
            raise TypeError(f"expected uint8 frames, got {obs.dtype}")
        return obs.permute(0, 3, 1, 2).float().div_(255.0)  # (N, 3, 64, 64)

    def forward(self, obs: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 frames (N, 64, 64, 3), a tensor or the env's numpy array ->
        (logits (N, A), value (N,)). Numpy frames go to the policy's device.

        Example:
            >>> logits, value = ImpalaPolicy()(np.zeros((2, 64, 64, 3), np.uint8))
            >>> tuple(logits.shape), tuple(value.shape)
            ((2, 15), (2,))
        """
        if not isinstance(obs, torch.Tensor):
            obs = as_frames(obs, next(self.parameters()).device)
        hidden = self.embedder(self.preprocess(obs))  # (N, 256)
        logits = self.fc_policy_out(self.fc_policy(hidden))  # (N, A)
        value = self.fc_value_out(self.fc_value(hidden))  # (N, 1)
        return logits, value.squeeze(-1)

    def distribution(self, obs: torch.Tensor | np.ndarray) -> Categorical:
        """The action distribution for uint8 frames (N, 64, 64, 3), tensor or numpy.

        Example:
            >>> policy = ImpalaPolicy()
            >>> policy.distribution(torch.zeros(2, 64, 64, 3, dtype=torch.uint8)).probs.shape
            torch.Size([2, 15])
        """
        return Categorical(logits=self(obs)[0])

    @torch.inference_mode()
    def act(
        self,
        obs: np.ndarray | torch.Tensor,
        greedy: bool = False,
        generator: torch.Generator | None = None,
    ) -> np.ndarray:
        """Actions (N,) int64 for uint8 frames (N, 64, 64, 3), computed on the policy's
        device; sampled (with ``generator``, on that device, if given) unless ``greedy``.

        Example:
            >>> import numpy as np
            >>> policy = ImpalaPolicy()
            >>> obs = np.zeros((2, 64, 64, 3), np.uint8)
            >>> policy.act(obs, generator=torch.Generator().manual_seed(0)).dtype
            dtype('int64')
        """
        device = next(self.parameters()).device
        logits, _ = self(as_frames(obs, device))  # (N, A)
        if greedy:
            return logits.argmax(dim=-1).cpu().numpy()
        probs = torch.softmax(logits.float(), dim=-1)  # (N, A)
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1).cpu().numpy()
