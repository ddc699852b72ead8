"""The setting that lets conv1's filters visibly learn in a short run: the scale of its random start."""
from __future__ import annotations

import pytest
import torch

from alexnet_explorer.config import PRESETS, RunConfig
from alexnet_explorer.config import build_model

SMALL = RunConfig(resize=65, init="kaiming", dropout=0.0, device="cpu")


def test_conv1_init_scale_shrinks_conv1_alone_and_draws_the_same_random_numbers() -> None:
    torch.manual_seed(4)
    plain = build_model(SMALL)
    torch.manual_seed(4)
    scaled = build_model(SMALL.replace(conv1_init_scale=0.25))
    for name, weights in plain.state_dict().items():
        expected = weights * 0.25 if name == "conv1.weight" else weights
        torch.testing.assert_close(scaled.state_dict()[name], expected)


def test_the_book_keeps_its_start_and_the_classroom_preset_learns_visible_filters() -> None:
    book = PRESETS["book"]
    assert (book.conv1_init_scale, book.init) == (1.0, "xavier")
    assert PRESETS["classroom"].conv1_init_scale < 1


@pytest.mark.parametrize("scale", [0.0, -0.5])
def test_the_scale_must_be_positive(scale: float) -> None:
    with pytest.raises(ValueError, match="conv1 init scale must be positive"):
        RunConfig(conv1_init_scale=scale)
