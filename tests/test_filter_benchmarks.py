"""The benchmarks of the Filters page: the structure of conv1's filters, and the separability steps' times."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from alexnet_explorer.config import RunConfig
from alexnet_explorer.data import load_fashion_mnist
from alexnet_explorer.config import build_model
from alexnet_explorer.inspection import low_frequency_share, structured_filters
from alexnet_explorer.runs import Checkpoint, RunDir
from benchmarks import filter_structure, separability_time

TINY = RunConfig(epochs=1, resize=65, init="kaiming", limit_train=32, limit_test=16, device="cpu")


def test_low_frequency_share_tells_blobs_and_edges_from_noise() -> None:
    side = np.arange(11)
    blob = torch.ones(1, 1, 11, 11)
    edge = torch.tensor(np.where(side < 5, -1.0, 1.0)[None, :].repeat(11, 0))[None, None]
    checkerboard = torch.tensor((-1.0) ** (side[:, None] + side[None, :]))[None, None]
    shares = low_frequency_share(torch.cat([blob, edge, checkerboard]).float())
    assert shares[0] == pytest.approx(1.0) and shares[1] > 0.6 and shares[2] < 0.01
    beyond = low_frequency_share(torch.cat([blob + edge]).float(), without_mean=True)
    alone = low_frequency_share(edge.float(), without_mean=True)
    assert beyond[0] == pytest.approx(alone[0])  # the blob is all mean
    assert structured_filters(torch.cat([blob + edge, checkerboard]).float()).tolist() == [True, False]
    random = torch.nn.Conv2d(1, 96, 11).weight
    assert not structured_filters(random).any()  # the start's noise spreads over every frequency


def test_the_report_has_a_row_per_epoch_and_counts_dead_filters_as_a_brute_force_check_does(
        tmp_path: Path, fixture_data_dir: Path) -> None:
    torch.manual_seed(0)
    net = build_model(TINY)
    run = RunDir.create(tmp_path, TINY, label="tiny")
    run.save_filters(0, net.conv1.weight.detach().clone())
    with torch.no_grad():
        net.conv1.weight[:5] = -net.conv1.weight[:5].abs()  # no pixel is negative: these five see only ≤ 0
        net.conv1.bias[:5] = -1.0
        net.conv1.weight[5:] += 0.05 * torch.randn_like(net.conv1.weight[5:])
    run.save_filters(1, net.conv1.weight.detach().clone())
    run.save_checkpoint(Checkpoint(TINY, net.state_dict(), optimizer=None, epoch=1, batch=0))
    rows = filter_structure.report(run)
    assert [row.split("|")[1].strip() for row in rows[3:]] == ["0", "1"]
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)
    accuracy, dead, strict = filter_structure.final_network(run, data)
    with torch.no_grad():
        peaks = torch.relu(net.eval().conv1(torch.nn.functional.interpolate(
            data.test_images.float() / 255, size=65, mode="bilinear", align_corners=False))).amax(dim=(0, 2, 3))
    assert dead == f"dead conv1 filters (no test image excites them): {int((peaks <= 0).sum())} of 96"
    alive_and_structured = int(((peaks > 0).numpy() & structured_filters(net.conv1.weight)).sum())
    assert strict.startswith(f"alive and structured by the strict measure: {alive_and_structured} of 96")
    assert int((peaks <= 0).sum()) >= 5 and accuracy.startswith("full test set (100 images) after epoch 1: accuracy")


def test_the_report_says_a_pipeline_has_no_conv1_and_goes_on_to_the_next_run(
        tmp_path: Path, fixture_data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    pipeline = RunDir.create(tmp_path, RunConfig(network="hog-svm", resize=28, epochs=1), label="hog")
    network = RunDir.create(tmp_path, TINY, label="tiny")
    torch.manual_seed(0)
    net = build_model(TINY)
    network.save_filters(0, net.conv1.weight.detach().clone())
    network.save_checkpoint(Checkpoint(TINY, net.state_dict(), optimizer=None, epoch=1, batch=0))
    filter_structure.main([str(pipeline.path), str(network.path), "--data-root", str(fixture_data_dir)])
    printed = capsys.readouterr().out
    assert "hog: a hand-made pipeline (HOG + linear SVM, 28px) has no conv1 filters to measure" in printed
    assert "dead conv1 filters" in printed  # the network after it was measured


def test_separability_timing_runs_every_step_on_a_small_sample(capsys: pytest.CaptureFixture,
                                                              fixture_data_dir: Path) -> None:
    separability_time.main(["--counts", "20", "30", "--data-root", str(fixture_data_dir)])
    table = capsys.readouterr().out.splitlines()
    steps = [row.split("|")[1].strip() for row in table if row.startswith("| raw") or row.startswith("| fc7")]
    assert steps == ["raw features", "raw probe", "raw pca", "raw tsne", "fc7 features", "fc7 probe", "fc7 pca",
                     "fc7 tsne"]
