"""The training loop: learning, events, stopping and exact resumption."""
import dataclasses
import itertools
import math

import pytest
import torch

from alexnet_explorer import devices
from alexnet_explorer.config import PRESETS, RunConfig
from alexnet_explorer.data import load_fashion_mnist, subset
from alexnet_explorer.devices import autocast, available_devices, move_to_device, resolve_device, to_fast_layout
from alexnet_explorer.events import EpochEnd, Progress, Started, Step, summary_lines
from alexnet_explorer.model import alexnet
from alexnet_explorer.train import TrainingDiverged, learning_rate, train, train_step

TINY = RunConfig(epochs=2, lr=0.02, momentum=0.9, batch_size=32, resize=65, limit_train=96, limit_test=64,
                 device="cpu")


@pytest.fixture(scope="module")
def fixture_data(fixture_data_dir):
    return load_fashion_mnist(fixture_data_dir, allow_download=False)


def collect(config, data, **kwargs):
    events = []
    ended = train(config, data, events.append, **kwargs)
    return events, ended


def test_loss_falls_when_overfitting_a_few_hundred_images(fixture_data):
    config = TINY.replace(epochs=6, limit_train=None, dropout=0.0, init="kaiming", lr=0.01)
    events, ended = collect(config, fixture_data)
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert epochs[-1].train_loss < 0.5 * epochs[0].train_loss
    assert ended.status == "finished" and ended.test_acc > 0.5  # chance is 0.1


def test_events_follow_the_chapters_animator(fixture_data):
    events, ended = collect(TINY, fixture_data)
    assert isinstance(events[0], Started) and events[0].conv1.shape == (96, 1, 11, 11)
    progress = [e.epoch for e in events if isinstance(e, Progress)]
    assert progress == pytest.approx([1 / 3, 2 / 3, 1.0, 4 / 3, 5 / 3, 2.0])  # 3 batches: points at each
    frames = [e.conv1 for e in events if isinstance(e, Progress)]  # conv1 as it was at each point
    assert all(frame.shape == (96, 1, 11, 11) for frame in frames) and not torch.equal(frames[0], frames[1])
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1, 2]
    assert sum(isinstance(e, Step) for e in events) == 6
    assert events[-1] is ended and ended.device == "cpu" and ended.examples_per_sec > 0
    assert summary_lines(ended)[0] == (f"loss {ended.train_loss:.3f}, train acc {ended.train_acc:.3f}, "
                                       f"test acc {ended.test_acc:.3f}")
    assert summary_lines(ended)[1].endswith(" examples/sec on cpu")


def test_seeded_runs_are_reproducible_on_cpu(fixture_data):
    first = collect(TINY.replace(epochs=1), fixture_data)[1]
    second = collect(TINY.replace(epochs=1), fixture_data)[1]
    other_seed = collect(TINY.replace(epochs=1, seed=1), fixture_data)[1]
    assert first.train_loss == second.train_loss and first.test_acc == second.test_acc
    assert first.train_loss != other_seed.train_loss


def test_stop_then_resume_ends_exactly_where_an_uninterrupted_run_does(fixture_data):
    config = TINY.replace(augment="none")
    _, straight = collect(config, fixture_data)
    steps = []
    stopped = train(config, fixture_data, lambda event: steps.append(event) if isinstance(event, Step) else None,
                    should_stop=lambda: len(steps) >= 4)
    assert stopped.status == "stopped" and stopped.epoch == pytest.approx(4 / 3)
    assert stopped.checkpoint.epoch == 1 and stopped.checkpoint.batch == 1
    resumed_events, resumed = collect(config, fixture_data, resume=stopped.checkpoint)
    assert resumed_events[0].start_epoch == 1
    assert resumed.status == "finished"
    assert resumed.train_loss == pytest.approx(straight.train_loss, abs=1e-6)
    assert resumed.test_acc == straight.test_acc


def test_a_run_stopped_before_its_first_test_says_so_in_the_summary(fixture_data):
    steps = []
    stopped = train(TINY, fixture_data, lambda event: steps.append(event) if isinstance(event, Step) else None,
                    should_stop=lambda: len(steps) >= 2)
    assert stopped.status == "stopped" and math.isnan(stopped.test_acc)
    assert summary_lines(stopped)[0] == (f"loss {stopped.train_loss:.3f}, train acc {stopped.train_acc:.3f}, "
                                         "test acc –")


def test_a_diverging_run_fails_at_once_and_says_what_to_change(fixture_data):
    events = []
    with pytest.raises(TrainingDiverged, match="try a smaller learning rate than 10000 or less momentum than 0.9"):
        train(TINY.replace(lr=1e4, momentum=0.9), fixture_data, events.append)
    assert not any(isinstance(e, EpochEnd) for e in events)  # it did not go on to test and checkpoint


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_a_step_reports_the_cross_entropy_against_the_labels_whatever_it_minimised(smoothing):
    torch.manual_seed(0)
    net = alexnet(65, init="kaiming").eval()  # no dropout: the logits after the step are the step's own
    x, y = torch.rand(8, 1, 65, 65), torch.arange(8)
    with torch.no_grad(), autocast(x.device):
        before = net(to_fast_layout(x))
    loss, logits = train_step(net, torch.optim.SGD(net.parameters(), lr=0.0), x, y, smoothing)
    assert torch.equal(logits, before)
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(before.float(), y).item(), rel=1e-3)
    smoothed = torch.nn.functional.cross_entropy(before.float(), y, label_smoothing=0.1).item()
    assert abs(smoothed - loss.item()) > 0.01  # the two differ enough here to tell which was reported


def test_schedule_warms_up_then_decays_to_zero():
    config = RunConfig(lr=0.1, epochs=2, schedule="cosine", warmup_epochs=0.5)
    rates = [learning_rate(config, step, 20, 10) for step in range(20)]
    assert rates[0] == pytest.approx(0.02) and rates[4] == pytest.approx(0.1)
    assert rates[5] == pytest.approx(0.1) and rates[-1] < 0.003
    assert all(a >= b for a, b in itertools.pairwise(rates[4:]))
    assert learning_rate(RunConfig(lr=0.01), 7, 20, 10) == 0.01


def test_devices_that_are_not_here_are_refused():
    assert resolve_device("cpu").type == "cpu"
    missing = [kind for kind in ("cuda", "mps") if kind not in available_devices()]
    missing.append(f"cuda:{torch.cuda.device_count()}")  # one past the last GPU: absent on every machine
    for device in missing:
        with pytest.raises(ValueError, match="not available"):
            resolve_device(device)


@pytest.mark.parametrize("changes, words", [
    ({"lr": -0.1}, "learning rate"), ({"resize": 40}, "smallest size is 65"), ({"device": "tpu"}, "device"),
    ({"epochs": 0}, "epochs"), ({"activation": "gelu"}, "activation"),
    ({"limit_train": 0}, "training images must be at least 1"),
])
def test_bad_settings_are_refused_with_their_reason(changes, words):
    with pytest.raises(ValueError, match=words):
        RunConfig(**changes)


def test_presets_keep_the_book_exact_and_the_others_quick():
    book = PRESETS["book"]
    assert (book.resize, book.batch_size, book.lr, book.epochs, book.momentum, book.init) == (224, 256, 0.01, 10, 0.0, "xavier")
    assert (book.activation, book.pooling, book.dropout, book.input_normalisation) == ("relu", "max", 0.5, "none")
    assert PRESETS["smoke"].limit_train * PRESETS["smoke"].epochs <= 1000
    assert RunConfig.from_dict(PRESETS["classroom"].to_dict()) == PRESETS["classroom"]


@pytest.mark.parametrize(("amx", "avx512_bf16"), [(False, False), (True, False), (False, True), (True, True)])
def test_cpu_math_is_bf16_and_channels_last_only_where_the_cpu_multiplies_bf16(monkeypatch, amx, avx512_bf16):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    devices._cpu_multiplies_bf16.cache_clear()
    try:
        bf16 = amx or avx512_bf16
        cpu = torch.device("cpu")
        net = move_to_device(alexnet(65), cpu)
        assert net.conv2.weight.is_contiguous(memory_format=torch.channels_last) == bf16
        with autocast(cpu):
            assert torch.is_autocast_enabled("cpu") == bf16
        x = torch.zeros(2, 3, 8, 8)  # three channels: a one-channel batch is both layouts at once
        assert to_fast_layout(x).is_contiguous(memory_format=torch.channels_last) == bf16
    finally:
        monkeypatch.undo()
        devices._cpu_multiplies_bf16.cache_clear()  # this CPU's own answer for the tests after


@pytest.mark.parametrize("normalisation", ["standardise", "centre"])
def test_a_normalised_run_keeps_its_training_images_mean_and_std_in_the_network(fixture_data, normalisation):
    config = TINY.replace(epochs=1, input_normalisation=normalisation)
    stopped = train(config, fixture_data, should_stop=lambda: True)
    pixels = subset(fixture_data.train_images, fixture_data.train_labels, config.limit_train, config.seed)[0] / 255
    net = stopped.checkpoint.network()  # as everything that loads the run builds it
    assert float(net.standardise.mean) == pytest.approx(float(pixels.mean()), abs=1e-5)
    scale = float(pixels.std()) if normalisation == "standardise" else 1.0  # centring alone divides by nothing
    assert float(net.standardise.std) == pytest.approx(scale, abs=1e-5)
    assert "standardise.mean" in stopped.checkpoint.model and not any(
        p is net.standardise.mean for p in net.parameters())  # a buffer, never a weight SGD moves
    # Resumed, it keeps the numbers it started with, whatever images the resuming process was given.
    other = dataclasses.replace(fixture_data, train_images=fixture_data.train_images // 2)
    events, _ = collect(config, other, resume=stopped.checkpoint)
    last = [event for event in events if isinstance(event, EpochEnd)][-1].checkpoint
    assert float(last.network().standardise.mean) == float(net.standardise.mean)
    assert float(last.network().standardise.std) == float(net.standardise.std)
