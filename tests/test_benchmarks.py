"""The benchmarks' arithmetic and closing lines, and each script end to end on the tiny fixture data."""
import pytest
import torch

from conftest import event

from alexnet_explorer.config import EXPERIMENTS, PRESETS
from alexnet_explorer.data import load_fashion_mnist
from alexnet_explorer.model import alexnet, count_macs, layer_macs
from alexnet_explorer.train import train
from benchmarks import cpu_layers, experiments, inference_latency, time_to_accuracy, train_throughput
from benchmarks.common import (flops_line, peak_tflops, percentile, ratio_line, speeds_by_stretch, training_flops,
                               with_torchs_layers)
from benchmarks.time_to_accuracy import Curve, eval_steps, outcome_line


def test_forward_macs_at_224_are_the_chapters_938_million():
    assert round(count_macs(224) / 1e6, 1) == 938.1


def test_macs_are_counted_per_layer_from_the_layers_shapes():
    macs = dict(layer_macs(alexnet(96), 96))
    assert list(macs) == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    assert macs["conv1"] == 22 * 22 * 96 * 11 * 11  # (96 + 2 - 11) // 4 + 1 = 22
    assert macs["fc7"] == 4096 * 4096
    assert sum(macs.values()) == count_macs(96)
    assert count_macs(65) == count_macs(67) < count_macs(96)  # 65 and 67 give the same conv1 output side


def test_training_flops_and_mfu_follow_from_the_mac_count():
    assert training_flops(224) == 6 * count_macs(224)
    per_teraflop = 1e12 / training_flops(224)  # images/s that make one TFLOP/s
    assert flops_line(per_teraflop, 224, 4.0) == "1.0000 TFLOP/s, MFU 25.0% of 4"
    assert "MFU n/a" in flops_line(per_teraflop, 224, None)
    assert peak_tflops(torch.device("cpu")) is None and peak_tflops(torch.device("cpu"), 2.5) == 2.5


def test_training_speed_is_split_by_stretches_of_time_an_interval_lies_wholly_within():
    training_seconds = [10, 20, 30, 50, 70, 80]  # at six progress points, 20 images apart: 2, 2, 1, 1, 2 images/s
    events = [event("started", time=1000.0, train_examples=100)]
    events += [event("progress", epoch=0.2 * (i + 1), elapsed=t, examples_per_sec=20 * (i + 1) / t)
               for i, t in enumerate(training_seconds)]
    # The first interval (warm-up) is left out; 1070-1080 straddles the second stretch, so it counts nowhere.
    outside, first, second = speeds_by_stretch(events, [(1030.0, 1070.0), (1075.0, 1100.0)])
    assert outside == pytest.approx([2.0]) and first == pytest.approx([1.0, 1.0]) and second == []


def test_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(20, 0, -1)]
    assert (percentile(values, 0.95), percentile(values, 0.5), percentile(values, 1.0)) == (19.0, 10.0, 20.0)
    assert percentile([3.0], 0.95) == 3.0


def test_ratio_line_is_ours_over_the_chapters():
    assert ratio_line(300.0, 100.0) == "ratio 3.00"
    assert ratio_line(100.0, 300.0) == "ratio 0.33"


def test_mid_epoch_evaluations_skip_the_epoch_ends_that_train_evaluates_itself():
    assert eval_steps(10, 2, 0.5) == [5, 15]
    assert eval_steps(8, 1, 0.25) == [2, 4, 6]
    assert eval_steps(10, 3, 1.0) == []


def test_curve_records_the_first_crossing_of_each_target():
    curve = Curve([0.85, 0.80], started=0.0, max_seconds=None)
    for epoch, accuracy in [(1, 0.7), (2, 0.81), (3, 0.79), (4, 0.82)]:
        curve.add(epoch, accuracy)
    assert set(curve.reached) == {0.80} and not curve.done and curve.best == 0.82
    assert curve.reached[0.80] == curve.points[1][0]
    curve.add(5, 0.9)
    assert curve.done and set(curve.reached) == {0.80, 0.85}


def test_outcome_lines():
    assert outcome_line(0.8, 123.4, 0.83, 300.0) == "reached 0.80 in 123 s"
    assert outcome_line(0.85, None, 0.8421, 600.4) == "not reached 0.85 (best 0.842 after 600 s)"


def test_the_drawn_garment_goes_through_the_whole_classify_path():
    model = inference_latency.classifier(65)
    assert model.size == 65 and not model.net.training
    probabilities, preprocess_s, forward_s = inference_latency.classify(model, inference_latency.drawn_shirt())
    assert probabilities.shape == (1, 10) and probabilities.sum() == pytest.approx(1.0)
    assert preprocess_s > 0 and forward_s > 0


def test_throughput_script_ends_with_the_ratio_line(fixture_data_dir, capsys):
    train_throughput.main(["--device", "cpu", "--resize", "65", "--batch-size", "8", "--steps", "1", "--rounds",
                           "1", "--warmup", "1", "--workers", "0", "--epoch-images", "16",
                           "--data-root", str(fixture_data_dir)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("ratio ") and float(lines[-1].split()[1]) > 0
    assert any(line.startswith("RSS after each epoch") for line in lines)


def test_time_to_accuracy_script_evaluates_mid_epoch_and_ends_with_the_outcome(fixture_data_dir, capsys):
    time_to_accuracy.main(["--preset", "smoke", "--device", "cpu", "--target", "0.05", "--eval-every", "0.5",
                           "--data-root", str(fixture_data_dir)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("reached 0.05 in ")
    epochs = [float(line.split()[1]) for line in lines if line.split()[0].replace(".", "").isdigit()]
    assert epochs == [0.5]  # the first point is already above chance-level 0.05, so the run stops there


def test_recipe_overrides_read_numbers_words_and_null():
    assert time_to_accuracy.overrides(["dropout=0.3", "limit_train=16000", "schedule=cosine", "limit_test=null"]) == {
        "dropout": 0.3, "limit_train": 16000, "schedule": "cosine", "limit_test": None}


def test_experiments_script_prints_a_row_for_the_preset_and_each_variant(fixture_data_dir, capsys):
    experiments.main(["--preset", "smoke", "--device", "cpu", "--only", "sigmoid", "no-dropout",
                      "--data-root", str(fixture_data_dir)])
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| smoke")]
    assert [row[0] for row in rows] == ["| smoke", "| smoke-sigmoid", "| smoke-no-dropout"]
    data = load_fashion_mnist(fixture_data_dir)
    for row, changes in zip(rows, [{}, EXPERIMENTS["sigmoid"].changes, EXPERIMENTS["no-dropout"].changes]):
        ended = train(PRESETS["smoke"].replace(device="cpu", **changes), data)  # the same run, trained here
        assert row[4:6] == [f"{ended.train_acc:.3f}", f"{ended.test_acc:.3f}"]


def test_the_explanations_benchmark_times_every_view_and_names_its_limit(capsys: pytest.CaptureFixture) -> None:
    from benchmarks import explanations
    explanations.main(["--size", "65", "--runs", "1", "--pool", "40", "--steps", "2"])
    lines = capsys.readouterr().out.splitlines()
    timed = [line for line in lines if " median " in line]
    assert [line.split(" median ")[0].strip() for line in timed] == [
        "saliency", "SmoothGrad", "integrated gradients", "Grad-CAM (conv2)", "occlusion",
        "sanity check, saliency, 8 layers randomised", "sanity check, SmoothGrad, 8 layers randomised",
        "guided backprop, 9 top images of a conv5 channel", "nearest 5 of 40 training images",
        "a class's picture, alone", "a class's picture, the ten together, per class"]
    assert all(line.endswith(tuple(f"{verdict} {limit} s)" for verdict in ("within", "OVER") for limit in (1, 3, 10)))
               for line in timed)


def test_the_chapters_side_has_torchs_own_layers_and_computes_the_same():
    torch.manual_seed(0)
    ours = alexnet(67).eval()
    x = torch.rand(2, 1, 67, 67)
    expected = ours(x)
    theirs = with_torchs_layers(ours)
    kinds = {type(module) for module in theirs.modules()}
    assert torch.nn.Conv2d in kinds and torch.nn.Dropout in kinds
    assert all(kind.__module__.startswith("torch.") for kind in kinds if kind is not type(theirs))
    torch.testing.assert_close(theirs(x), expected)


def test_the_cpu_layers_benchmark_says_which_way_the_package_takes(capsys):
    cpu_layers.main(["--batch-size", "2", "--rounds", "1"])
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line.startswith("conv")]
    assert len(rows) == 2 * len(cpu_layers.LAYERS)
    uses = {(row[1], row[2]): row[-1] for row in rows}
    assert uses[("3×3", "bfloat16")] == "product" and uses[("7×7", "bfloat16")] == "product"
    assert uses[("8×8", "bfloat16")] == "oneDNN" and uses[("3×3", "float32")] == "oneDNN"
    pools = {row[1]: " ".join(row[5:]) for row in (line.split() for line in lines if line.startswith("pool"))}
    assert len(pools) == len(cpu_layers.POOLINGS)
    assert pools["15×15"] == "channels_last" and pools["22×22"] == "channels_last" and pools["28×28"] == "torch's"
