"""LeNet as a network a run can choose: the d2l listing's layers and outputs with copied weights, its presets, and a
real training run through the same loop as AlexNet's."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from alexnet_explorer import model
from alexnet_explorer.config import PRESETS, RunConfig, build_model
from alexnet_explorer.data import load_fashion_mnist
from alexnet_explorer.runs import RunDir, RunRecorder, load_checkpoint
from alexnet_explorer.train import train


def d2l_lenet() -> nn.Sequential:
    """The listing of d2l's chapter 7.6 (LeNet), written out as the book has it."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def copy_weights(source: nn.Module, target: nn.Module) -> None:
    """The layers with weights of one network into the other's, in order."""
    learned = [m for m in source.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    mine = [m for m in target.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert [tuple(m.weight.shape) for m in learned] == [tuple(m.weight.shape) for m in mine]
    for a, b in zip(learned, mine):
        b.load_state_dict(a.state_dict())


def test_lenet_is_the_d2l_listing_with_named_layers() -> None:
    book, ours = d2l_lenet(), model.lenet()
    assert [type(m) for m in ours if not isinstance(m, nn.Dropout)] == [type(m) for m in book]
    torch.manual_seed(0)
    copy_weights(book, ours)
    x = torch.rand(5, 1, 28, 28)
    torch.testing.assert_close(ours.eval()(x), book.eval()(x))
    assert model.count_parameters(ours) == model.count_parameters(book) == 61_706
    assert (model.conv_layers(ours), model.inspectable_layers(ours)) == (("conv1", "conv2"),
                                                                         ("conv1", "conv2", "fc3", "fc4"))
    assert (model.last_hidden_layer(ours), model.output_layer(ours)) == ("fc4", "fc5")
    assert model.layers_top_down(ours) == ("fc5", "fc4", "fc3", "conv2", "conv1")


def test_the_modern_lenet_swaps_only_the_activation_and_the_pooling() -> None:
    modern = build_model(PRESETS["lenet-modern"])
    kinds = [type(m) for _, m in modern.named_children()]
    assert nn.Sigmoid not in kinds and nn.AvgPool2d not in kinds
    assert kinds.count(nn.ReLU) == 4 and kinds.count(model.MaxPool2d) == 2
    assert model.count_parameters(modern) == 61_706


def test_alexnets_layers_are_read_from_the_network_as_before() -> None:
    net = model.alexnet(67)
    assert model.inspectable_layers(net) == ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")
    assert (model.last_hidden_layer(net), model.output_layer(net)) == ("fc7", "fc8")
    assert model.layers_top_down(net)[:3] == ("fc8", "fc7", "fc6")


def test_the_presets_are_the_books_setting_and_the_modern_one() -> None:
    lenet, modern = PRESETS["lenet"], PRESETS["lenet-modern"]
    assert (lenet.network, lenet.resize, lenet.activation, lenet.pooling, lenet.lr, lenet.epochs,
            lenet.batch_size, lenet.init, lenet.dropout) == ("lenet", 28, "sigmoid", "avg", 0.9, 10, 256, "xavier", 0)
    assert (modern.activation, modern.pooling, modern.momentum) == ("relu", "max", 0.9)
    assert lenet.summary().startswith("LeNet, 28px")
    assert RunConfig.from_dict({k: v for k, v in PRESETS["book"].to_dict().items() if k != "network"}).network == \
        "alexnet"  # a run saved before LeNet came is AlexNet's


@pytest.mark.parametrize("values, reason", [
    ({"network": "lenet", "resize": 20}, "input size 20 is too small for LeNet: the smallest size is 28"),
    ({"resize": 28}, "input size 28 is too small for AlexNet"),
    ({"network": "resnet"},
     "network must be one of alexnet, lenet, raw-linear, hog-svm, filters-svm, hog-kernel-svm, not 'resnet'"),
])
def test_a_network_and_an_input_it_cannot_take_are_refused_with_the_reason(values: dict, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        RunConfig(**values)


def test_a_lenet_run_trains_and_saves_through_the_same_loop(tmp_path: Path, fixture_data_dir: Path) -> None:
    config = PRESETS["lenet-modern"].replace(epochs=2, limit_train=64, limit_test=32, batch_size=16, device="cpu")
    run = RunDir.create(tmp_path, config, label="lenet")
    train(config, load_fashion_mnist(fixture_data_dir, allow_download=False), emit=RunRecorder(run))
    assert run.read_status()["state"] == "finished"
    checkpoint = load_checkpoint(run.checkpoint_path)
    assert checkpoint.config.network == "lenet" and tuple(checkpoint.network().conv1.weight.shape) == (6, 1, 5, 5)
    assert tuple(run.load_filters(2).shape) == (6, 1, 5, 5)
