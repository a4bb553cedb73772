"""Video recording through gymnasium's and SB3's own recorders works on an install."""

from __future__ import annotations

import gymnasium as gym
import imageio.v3 as iio
import numpy as np
import pytest
from gymnasium.wrappers import RecordVideo

import mazepolicy  # noqa: F401  (registers the gymnasium ids)
from mazepolicy.envs import NOOP, RIGHT


def test_gymnasium_record_video_writes_a_playable_mp4(tmp_path):
    pytest.importorskip("moviepy")  # the video extra
    env = RecordVideo(gym.make("mazepolicy/maze-nocheese-v0", render_mode="rgb_array",
                               max_episode_steps=8), str(tmp_path),
                      episode_trigger=lambda episode: True, name_prefix="maze")
    env.reset(seed=0)
    for _ in range(8):
        env.step(RIGHT)
    env.close()
    (video,) = tmp_path.glob("maze-episode-0.mp4")
    frames = iio.imread(video, plugin="pyav")
    assert frames.shape[0] >= 8 and frames.shape[-1] == 3 and frames.std() > 0


def test_sb3_vec_video_recorder_writes_an_mp4(tmp_path):
    pytest.importorskip("stable_baselines3")
    pytest.importorskip("moviepy")
    from stable_baselines3.common.vec_env import VecVideoRecorder

    from mazepolicy.envs.sb3 import MazeSB3VecEnv

    venv = VecVideoRecorder(MazeSB3VecEnv(num_envs=2, seed=0, render_mode="rgb_array"),
                            str(tmp_path), record_video_trigger=lambda step: step == 0,
                            video_length=6, name_prefix="maze")
    venv.reset()
    for _ in range(7):
        venv.step(np.full(2, NOOP))
    venv.close()
    (video,) = tmp_path.glob("maze-*.mp4")
    assert iio.imread(video, plugin="pyav").shape[0] >= 6
