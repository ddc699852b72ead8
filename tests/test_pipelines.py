"""The hand-made pipelines: HOG against scikit-image's and against a picture whose answer is known by hand, a fit that
must separate two separable classes, and a run of each kind through the training entry point."""
from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.feature import hog
from torch import nn

from alexnet_explorer import history, pipelines
from alexnet_explorer import train as train_module
from alexnet_explorer.config import HANDMADE_CONV1_LENGTH, PRESETS, RunConfig, build_model
from alexnet_explorer.data import FashionMNIST, load_fashion_mnist
from alexnet_explorer.evaluation import Evaluation
from alexnet_explorer.events import Progress, Step, summary_lines, training_curves
from alexnet_explorer.model import last_hidden_layer, layers_top_down, split_after
from alexnet_explorer.runs import RunDir, RunRecorder, load_checkpoint
from alexnet_explorer.train import train


def skimage_hog(picture: np.ndarray) -> np.ndarray:
    return hog(picture, orientations=9, pixels_per_cell=(4, 4), cells_per_block=(2, 2), block_norm="L2-Hys")


def test_hog_is_scikit_images_on_random_pictures_and_on_garments(fixture_data_dir: Path) -> None:
    pictures = torch.rand(6, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    garments = load_fashion_mnist(fixture_data_dir, allow_download=False).test_images[:6].double() / 255
    for batch in (pictures, garments):
        ours = pipelines.HOG()(batch).numpy()
        assert ours.shape == (6, 1296)  # 6×6 blocks of 2×2 cells of 9 orientations
        np.testing.assert_allclose(ours, np.stack([skimage_hog(p[0].numpy()) for p in batch]), atol=1e-6)


def test_a_vertical_edge_votes_only_for_the_horizontal_gradient_in_the_cells_it_crosses() -> None:
    picture = torch.zeros(1, 1, 28, 28, dtype=torch.float64)
    picture[..., 14:] = 1.0  # dark left, light right: the gradient points along the rows, orientation 0°
    blocks = pipelines.HOG()(picture).reshape(6, 6, 2, 2, 9)
    assert torch.all(blocks[..., 1:] == 0)  # no other orientation has a vote
    # The edge lies between columns 13 and 14: cells 3 (pixels 12-15) hold it, so only the blocks that contain
    # cell column 3 (block columns 2 and 3) see it, each normalised to 1 over its two edge cells (0.2 clip then
    # renormalised: each of the two cells gets 1/√2).
    seen = blocks[..., 0].sum(dim=(2, 3))
    assert torch.all(seen[:, [0, 1, 4, 5]] == 0) and torch.all(seen[:, [2, 3]] > 0)
    np.testing.assert_allclose(blocks[0, 2, :, 1, 0].numpy(), [2 ** -0.5] * 2, atol=1e-4)


def two_classes(count: int = 200) -> FashionMNIST:
    """A vertical bar (class 0) or a horizontal one (class 1) on noise: apart in pixels and in edge directions."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(count) % 2
    images = (torch.rand(count, 1, 28, 28, generator=generator) * 60).to(torch.uint8)
    for i, label in enumerate(labels):
        bar = images[i, 0, 4:24, 11:17] if label == 0 else images[i, 0, 11:17, 4:24]
        bar += 150
    half = count // 2
    return FashionMNIST(images[:half], labels[:half], images[half:], labels[half:], "two made-up classes")


@pytest.mark.parametrize("name", list(pipelines.PIPELINES))
def test_each_pipeline_fits_two_separable_classes_perfectly_and_saves_a_run(name: str, tmp_path: Path) -> None:
    config = PRESETS[name].replace(device="cpu")
    run = RunDir.create(tmp_path, config, label=name)
    ended = train(config, two_classes(), emit=RunRecorder(run))
    assert (ended.status, ended.train_acc, ended.test_acc) == ("finished", 1.0, 1.0)
    assert run.read_status()["state"] == "finished"
    net = load_checkpoint(run.checkpoint_path).network()
    below_the_classifier = "kernel" if pipelines.PIPELINES[name].kernel else "scaled"
    assert pipelines.is_pipeline(net) and (last_hidden_layer(net), layers_top_down(net)) == (below_the_classifier,
                                                                                            ("fc",))
    head, tail = split_after(net, below_the_classifier)
    x = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(tail(head(x)), net(x))


def test_the_standardisation_is_the_training_features_mean_and_std(tmp_path: Path) -> None:
    data = two_classes()
    config = PRESETS["raw-linear"].replace(device="cpu")
    run = RunDir.create(tmp_path, config, label="raw")
    train(config, data, emit=RunRecorder(run))
    net = load_checkpoint(run.checkpoint_path).network()
    pixels = data.train_images.flatten(1).double() / 255
    std = pixels.std(dim=0, correction=0)
    torch.testing.assert_close(net.scaled.mean.double(), pixels.mean(dim=0), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(net.scaled.std.double(), torch.where(std > 0, std, 1.0), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("values, reason", [
    ({"network": "hog-svm", "resize": 67, "epochs": 1}, "input size must be 28, not 67"),
    ({"network": "hog-svm", "resize": 28, "epochs": 10}, "epochs must be 1, not 10"),
])
def test_a_pipeline_refuses_settings_it_cannot_follow(values: dict, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        RunConfig(**values)


def test_a_pipeline_given_one_class_says_so_in_the_forms_words(tmp_path: Path) -> None:
    config = PRESETS["hog-kernel-svm"].replace(limit_train=1)
    with pytest.raises(ValueError, match="needs training images of two classes at least, and 1 training image holds only one: choose more"):
        train(config, two_classes(), emit=RunRecorder(RunDir.create(tmp_path, config, label="one")))


def test_a_pipeline_stopped_before_its_fit_saves_nothing(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, PRESETS["hog-svm"], label="stopped")
    ended = train(PRESETS["hog-svm"], two_classes(), emit=RunRecorder(run), should_stop=lambda: True)
    assert ended.status == "stopped" and not run.has_checkpoint()
    assert summary_lines(ended) == ("loss –, train acc –, test acc –", "– examples/sec on cpu")  # nothing measured


@pytest.mark.parametrize("name", ["raw-linear", "hog-svm"])  # logistic regression and the linear SVM
@pytest.mark.parametrize("labels", [(1, 4, 7, 9), (2, 5)])
def test_a_classifier_fitted_a_class_at_a_time_has_scikit_learns_weights(name: str, labels: tuple[int, ...]) -> None:
    generator = np.random.default_rng(1)
    targets = generator.choice(labels, size=240)
    inputs = generator.normal(size=(240, 16)) + targets[:, None] * generator.normal(size=16)
    make = pipelines.PIPELINES[name].classifier
    rows = list(pipelines.fitted_rows(make, 3, inputs, targets))
    oracle = make(3).fit(inputs, targets)  # scikit-learn's fit of every class at once
    assert [label for label, _, _ in rows] == list(labels)
    weight, bias = np.stack([row for _, row, _ in rows]), np.array([row_bias for _, _, row_bias in rows])
    if len(labels) == 2:  # one classifier, the second class against the first, halved into two rows
        np.testing.assert_allclose(weight, np.concatenate([-oracle.coef_, oracle.coef_]) / 2)
        np.testing.assert_allclose(bias, np.concatenate([-oracle.intercept_, oracle.intercept_]) / 2)
    else:
        np.testing.assert_allclose(weight, oracle.coef_)
        np.testing.assert_allclose(bias, oracle.intercept_)
    assert np.array_equal(np.array(labels)[(inputs @ weight.T + bias).argmax(1)], oracle.predict(inputs))


def test_a_pipeline_hears_a_stop_between_the_classes_it_fits(fixture_data_dir: Path, tmp_path: Path) -> None:
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)
    config = PRESETS["hog-svm"].replace(device="cpu", limit_train=None, limit_test=None)
    run = RunDir.create(tmp_path, config, label="stopped")
    recorder, steps = RunRecorder(run), []

    def record(event: object) -> None:
        steps.extend([event] if isinstance(event, Step) else [])
        recorder(event)

    feature_batches = math.ceil(len(data.train_labels) / train_module.FEATURE_BATCH)
    ended = train(config, data, emit=record, should_stop=lambda: len(steps) > feature_batches + 1)
    assert ended.status == "stopped" and not run.has_checkpoint()
    classes = len(data.train_labels.unique())
    assert [(step.batch, step.batches) for step in steps] == [(n, feature_batches + classes)
                                                               for n in range(1, feature_batches + 3)]


def test_a_pipelines_progress_is_recorded_for_the_app_with_nothing_measured_until_it_ends(
        fixture_data_dir: Path, tmp_path: Path) -> None:
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)
    config = PRESETS["hog-svm"].replace(device="cpu", limit_train=None, limit_test=None)
    run = RunDir.create(tmp_path, config, label="hog")
    train(config, data, emit=RunRecorder(run))
    events = run.read_events()
    steps = math.ceil(len(data.train_labels) / train_module.FEATURE_BATCH) + len(data.train_labels.unique())
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.epoch for p in progress] == pytest.approx([k / steps for k in range(1, steps + 1)] + [1.0])
    assert all(math.isnan(p.train_loss) for p in progress[:-1]) and not math.isnan(progress[-1].train_loss)
    midway = history.progress_so_far(events[:events.index(progress[1]) + 1], now=progress[1].elapsed + 5.0)
    assert midway.epoch == pytest.approx(2 / steps) and midway.remaining is None and midway.examples_per_sec > 0
    curves = training_curves(events)
    assert curves["train loss"][0] == [1.0] and curves["train acc"][0] == [1.0]  # the one measured point
    fitting = RunDir.create(tmp_path, config, label="fitting")  # the same run, seen while it computes features
    for event in events[:events.index(progress[1]) + 1]:
        fitting.append_event(event)
    assert history.observed_speed(config, [fitting]) is None  # the features' pace is no forecast of the fit
    assert history.observed_speed(config, [run]) == pytest.approx(progress[-1].examples_per_sec)


def test_build_model_gives_an_unfitted_pipeline_of_the_right_width() -> None:
    net = build_model(PRESETS["hog-svm"])
    assert (net.scaled.out_features, net.fc.out_features) == (1296, 10)
    assert build_model(PRESETS["raw-linear"]).scaled.out_features == 784


def test_the_hand_made_bank_has_alexnets_96_filters_of_one_length_each_a_family() -> None:
    bank = pipelines.filter_bank()
    assert tuple(bank.shape) == (96, 1, 11, 11)
    torch.testing.assert_close(bank.flatten(1).norm(dim=1), torch.full((96,), pipelines.BANK_NORM))
    gabors = bank[:64].double()
    assert gabors.flatten(1).sum(dim=1).abs().max() < 1e-4  # zero mean: a flat picture gives no response
    # a vertical bar detector answers a vertical bar more than a horizontal one
    vertical, horizontal = torch.zeros(1, 1, 11, 11), torch.zeros(1, 1, 11, 11)
    vertical[..., :, 5], horizontal[..., 5, :] = 1.0, 1.0
    at_zero = pipelines.gabor(0.0, 3.0, sigma=1.5).float()  # the wave runs along x: a vertical bar
    assert (at_zero * vertical[0, 0]).sum() > (at_zero * horizontal[0, 0]).sum()
    features = pipelines.FilterBankFeatures()(torch.rand(2, 1, 28, 28))
    assert tuple(features.shape) == (2, 96 * 16) and bool((features >= 0).all())


def test_a_network_with_conv1_made_by_hand_keeps_it_through_training(tmp_path: Path,
                                                                       fixture_data_dir: Path) -> None:
    config = PRESETS["smoke"].replace(conv1_handmade=True, epochs=1, limit_train=64, batch_size=16, device="cpu")
    net = build_model(config)
    bank = pipelines.filter_bank(length=HANDMADE_CONV1_LENGTH)
    torch.testing.assert_close(net.conv1.weight.flatten(1).norm(dim=1), torch.full((96,), HANDMADE_CONV1_LENGTH))
    torch.testing.assert_close(net.conv1.weight, bank)
    assert not net.conv1.weight.requires_grad and net.conv1.bias.requires_grad
    run = RunDir.create(tmp_path, config, label="handmade")
    train(config, load_fashion_mnist(fixture_data_dir, allow_download=False), emit=RunRecorder(run))
    trained = load_checkpoint(run.checkpoint_path).network()
    torch.testing.assert_close(trained.conv1.weight, bank)
    assert not torch.equal(trained.conv2.weight, net.conv2.weight)  # the layers above learned
    assert "conv1 made by hand" in config.summary()


def test_the_kernel_map_is_scikit_learns_nystroem_and_a_pipeline_with_fewer_pictures_leaves_the_rest_zero() -> None:
    generator = np.random.default_rng(0)
    train_features, pictures = generator.normal(size=(300, 12)), generator.normal(size=(5, 12))
    fitted = pipelines._rbf_map(0, 12, len(train_features)).fit(train_features)
    assert fitted.n_components == 300  # fewer training pictures than landmarks: every one is a landmark
    net = nn.Sequential(OrderedDict(kernel=pipelines.KernelMap(12)))
    pipelines.set_kernel(net, fitted)
    mapped = net.kernel(torch.as_tensor(pictures, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(mapped[:, :300], fitted.transform(pictures), atol=1e-4)
    assert mapped.shape == (5, pipelines.LANDMARKS) and not mapped[:, 300:].any()


@pytest.mark.parametrize(("limit_train", "landmarks"), [(300, "300"), (None, "2,000"), (100_000, "2,000")])
def test_a_kernel_svms_run_says_how_many_landmarks_it_compares_with(limit_train: int | None, landmarks: str) -> None:
    config = RunConfig(network="hog-kernel-svm", resize=28, epochs=1, limit_train=limit_train)
    assert config.summary().startswith(f"HOG + RBF-kernel SVM, {landmarks} landmarks, 28px")


def test_a_pipelines_test_accuracy_is_its_saved_answers_whatever_a_test_pass_said(monkeypatch: pytest.MonkeyPatch,
                                                                                   tmp_path: Path) -> None:
    monkeypatch.setattr(train_module, "evaluate", lambda *args, **kwargs: -1.0)  # a pass that disagrees (bf16, say)
    config = PRESETS["hog-kernel-svm"].replace(device="cpu")
    run = RunDir.create(tmp_path, config, label="kernel")
    ended = train(config, two_classes(), emit=RunRecorder(run))
    assert ended.test_acc == Evaluation.load(run.evaluation_path).accuracy == run.read_status()["test_acc"] == 1.0
