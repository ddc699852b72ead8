"""The queue's policy on a machine of any shape: which runs start, their places in line and their waits; how long
a queued run should take."""
from conftest import event

from alexnet_explorer import estimate, history
from alexnet_explorer.config import PRESETS
from alexnet_explorer.devices import claims
from alexnet_explorer.history import QueueEntry
from alexnet_explorer.runs import RunDir
from alexnet_explorer.schedule import Waiting, forecast, ordinal, places, plan

FOUR_GPUS = ["cuda:0", "cuda:1", "cuda:2", "cuda:3", "cpu"]


def waiting(name: str, device: str, units: list[str] = FOUR_GPUS) -> Waiting:
    return Waiting(name, tuple(claims(device, units)))


def test_a_device_takes_the_hardware_it_names_and_auto_any_free_gpu():
    assert claims("cuda:2", FOUR_GPUS) == [{"cuda:2"}]
    assert claims("auto", FOUR_GPUS) == [{"cuda:0"}, {"cuda:1"}, {"cuda:2"}, {"cuda:3"}]
    assert claims("cuda", FOUR_GPUS) == claims("auto", FOUR_GPUS)
    assert claims("cuda:all", FOUR_GPUS) == [{"cuda:0", "cuda:1", "cuda:2", "cuda:3"}]
    assert claims("auto", ["cpu"]) == [{"cpu"}] and claims("auto", ["mps", "cpu"]) == [{"mps"}]
    assert claims("cuda:all", ["cuda:0", "cpu"]) == [] and claims("cuda:4", FOUR_GPUS) == []


def test_one_device_serves_its_queue_in_order_one_run_at_a_time():
    queue = [waiting(name, "cpu") for name in ("a", "b", "c")]
    assert plan(queue, busy=set()) == {"a": {"cpu"}}
    assert plan(queue[1:], busy={"cpu"}) == {}
    assert places(queue) == {"a": 1, "b": 2, "c": 3}


def test_auto_takes_any_free_gpu_and_cuda_n_waits_for_its_own():
    queue = [waiting("wants-1", "cuda:1"), waiting("any", "auto"), waiting("any-too", "auto")]
    assert plan(queue, busy={"cuda:0", "cuda:1"}) == {"any": {"cuda:2"}, "any-too": {"cuda:3"}}
    assert plan(queue, busy={"cuda:0", "cuda:1", "cuda:2", "cuda:3"}) == {}


def test_a_run_on_every_gpu_is_not_overtaken_by_single_gpu_runs():
    queue = [waiting("all", "cuda:all"), waiting("one", "cuda:3"), waiting("cpu", "cpu")]
    # cuda:3 is free, but the run for every GPU is ahead: it waits for cuda:0 to free, and nobody takes cuda:3.
    assert plan(queue, busy={"cuda:0"}) == {"cpu": {"cpu"}}
    assert plan(queue, busy=set()) == {"all": {"cuda:0", "cuda:1", "cuda:2", "cuda:3"}, "cpu": {"cpu"}}
    assert places(queue) == {"all": 1, "one": 2, "cpu": 1}  # the CPU's line is its own


def test_the_forecast_adds_the_waits_of_the_runs_ahead():
    queue = [waiting(name, "cpu") for name in ("a", "b", "c")]
    starts = forecast(queue, free_in={"cpu": 100.0}, durations={"a": 60.0, "b": 30.0, "c": 10.0})
    assert starts == {"a": 100.0, "b": 160.0, "c": 190.0}
    unknown = forecast(queue, free_in={"cpu": 100.0}, durations={"a": None, "b": 30.0, "c": 10.0})
    assert unknown == {"a": 100.0, "b": None, "c": None}


def test_the_forecast_sends_a_run_to_the_gpu_that_frees_first():
    queue = [waiting("x", "auto"), waiting("y", "auto"), waiting("z", "cuda:0")]
    free_in = {"cuda:0": 50.0, "cuda:1": 10.0, "cuda:2": 300.0, "cuda:3": 200.0}
    starts = forecast(queue, free_in, durations={"x": 100.0, "y": 100.0, "z": 5.0})
    # x takes cuda:1 at 10; y takes cuda:0 at 50; z waits for cuda:0 again (150), after y.
    assert starts == {"x": 10.0, "y": 50.0, "z": 150.0}


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]


def run_that_trained(folder, config, speed: float) -> RunDir:
    """A CPU run of this configuration whose first record says it trained at ``speed`` pictures a second."""
    run = RunDir.create(folder, config, label=config.network)
    run.append_event(event("started", device="cpu", epochs=config.epochs, start_epoch=0, time=1.0))
    run.append_event(event("progress", epoch=0.2, examples_per_sec=speed, elapsed=12.0, remaining=230.0,
                           train_loss=2.0, train_acc=0.3))
    return run


def test_a_queued_runs_duration_comes_from_the_speed_runs_like_it_reached_here(tmp_path):
    classroom = PRESETS["classroom"].replace(device="cpu")
    past = run_that_trained(tmp_path, classroom, 200.0)
    queued = RunDir.create(tmp_path, classroom.replace(resize=134), label="classroom")
    runs = [queued, past]
    assert history.observed_speed(queued.read_config(), runs) == 50.0  # four times the pixels: a quarter the speed
    assert history.seconds_left(queued, runs) == estimate.run_seconds(queued.read_config(), 50.0)
    assert history.observed_speed(classroom.replace(device="cpu"), [queued]) is None  # nothing trained here yet


def test_a_queued_runs_speed_comes_from_runs_of_its_own_network_not_the_newest_run(tmp_path):
    classroom, hog = PRESETS["classroom"].replace(device="cpu"), PRESETS["hog-svm"].replace(device="cpu")
    runs = [run_that_trained(tmp_path, hog, 4000.0), run_that_trained(tmp_path, classroom, 300.0)]  # newest first
    assert history.observed_speed(classroom, runs) == 300.0
    assert history.observed_speed(hog, runs) == 4000.0
    assert history.observed_speed(PRESETS["lenet-modern"].replace(device="cpu"), runs) is None


def test_a_queue_entry_says_its_place_and_wait():
    assert QueueEntry(None, 3, 250.0).describe() == "3rd in line, about 4 min 10 s"
    assert QueueEntry(None, 1, 4.0).describe() == "1st in line, any moment now"
    assert QueueEntry(None, 2, None).describe() == "2nd in line, waiting time not known yet"
