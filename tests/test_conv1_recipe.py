"""The settings that let conv1's filters visibly learn in a short run: the scale of its random start, and its bias
held at 0."""
from __future__ import annotations

import copy

import pytest
import torch

from alexnet_explorer.config import PRESETS, RunConfig
from alexnet_explorer.config import build_model
from alexnet_explorer.train import sgd, train_step

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


def _steps(config: RunConfig, count: int = 3) -> tuple[torch.nn.Module, torch.nn.Module]:
    """A network of this configuration before and after a few SGD steps on random pictures."""
    torch.manual_seed(0)
    net = build_model(config)
    before = copy.deepcopy(net)
    optimizer = sgd(net, config, torch.device("cpu"))
    for _ in range(count):
        train_step(net, optimizer, torch.rand(8, 1, config.resize, config.resize), torch.randint(0, 10, (8,)))
    return before, net


@pytest.mark.parametrize("init", ["xavier", "kaiming"])
def test_conv1_bias_held_at_zero_starts_at_zero_and_stays_there_while_the_rest_learns(init: str) -> None:
    before, after = _steps(SMALL.replace(init=init, lr=0.1, conv1_bias_at_zero=True))
    assert torch.count_nonzero(before.conv1.bias) == 0 and torch.count_nonzero(after.conv1.bias) == 0
    assert not torch.equal(before.conv1.weight, after.conv1.weight)
    assert not torch.equal(before.conv2.bias, after.conv2.bias)


def test_conv1_bias_is_learned_unless_held() -> None:
    before, after = _steps(SMALL.replace(lr=0.1))
    assert not torch.equal(before.conv1.bias, after.conv1.bias)
    assert "conv1 bias" not in SMALL.summary()
    assert "conv1 bias held at 0" in SMALL.replace(conv1_bias_at_zero=True).summary()


def test_the_classroom_preset_holds_conv1_bias_and_the_book_learns_it() -> None:
    assert PRESETS["classroom"].conv1_bias_at_zero and not PRESETS["book"].conv1_bias_at_zero


def test_a_run_saved_before_the_setting_reads_with_its_bias_learned() -> None:
    saved = {key: value for key, value in PRESETS["classroom"].to_dict().items() if key != "conv1_bias_at_zero"}
    config = RunConfig.from_dict(saved)
    assert not config.conv1_bias_at_zero and build_model(config).conv1.bias.requires_grad
