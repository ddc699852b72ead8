"""RunConfig's checks made from its settings' descriptions, and the presets and experiments the Train page offers."""
import pytest

from alexnet_explorer.config import (
    GROUPS,
    PRESETS,
    RunConfig,
    config_or_problem,
    preset_already_does,
    run_label,
    setting_type,
    settings,
    starting_config,
)


@pytest.mark.parametrize("changes, message", [
    ({"epochs": 0}, "epochs must be at least 1, not 0"),
    ({"lr": 0.0}, "learning rate must be positive, not 0.0"),
    ({"momentum": 1.0}, "momentum must be in [0, 1), not 1.0"),
    ({"weight_decay": -0.1}, "weight decay cannot be negative, not -0.1"),
    ({"batch_size": 0}, "batch size must be at least 1, not 0"),
    ({"dropout": -0.5}, "dropout must be in [0, 1), not -0.5"),
    ({"pooling": "min"}, "pooling must be one of max, avg, not 'min'"),
    ({"label_smoothing": 1.0}, "label smoothing must be in [0, 1), not 1.0"),
    ({"schedule": "step"}, "schedule must be one of constant, cosine, not 'step'"),
    ({"warmup_epochs": 11.0}, "warm-up must be between 0 and 10 epochs, not 11.0"),
    ({"limit_test": 0}, "test images must be at least 1, not 0"),
    ({"device": "tpu"}, "device must be one of auto, cuda, mps, cpu (or cuda:N), not 'tpu'"),
    ({"lr": float("inf")}, "learning rate must be a finite number, not inf"),
    ({"weight_decay": float("nan")}, "weight decay must be a finite number, not nan"),
    ({"conv1_init_scale": float("inf")}, "conv1 init scale must be a finite number, not inf"),
    ({"seed": 99999999999999999999}, "seed must be a whole number from -2**63 to 2**64 - 1, not 99999999999999999999"),
    ({"epochs": 1.5}, "epochs must be a whole number, not 1.5"),
    ({"epochs": True}, "epochs must be a whole number, not True"),
    ({"lr": "0.1"}, "learning rate must be a number, not '0.1'"),
    ({"resize": "big"}, "resize must be a whole number, not 'big'"),
    ({"activation": 3}, "activation must be a word, not 3"),
])
def test_each_setting_is_checked_with_its_own_message(changes, message):
    with pytest.raises(ValueError) as refused:
        RunConfig(**changes)
    assert str(refused.value) == message


def test_settings_in_range_and_open_ones_pass():
    RunConfig(momentum=0.0, weight_decay=0.0, limit_train=None, warmup_epochs=10.0, device="cuda:3", seed=-1)


def test_every_setting_is_described_in_a_group():
    for name, described in settings().items():
        assert described.label and described.help and described.group in GROUPS, name
        assert setting_type(name) in (int, float, bool, str), name
    assert setting_type("limit_train") is int and setting_type("lr") is float


def test_a_form_gives_a_config_or_the_reason_it_cannot_run():
    assert config_or_problem({"epochs": 2}) == (RunConfig(epochs=2), None)
    assert config_or_problem({"epochs": 0}) == (None, "epochs must be at least 1, not 0")
    config, problem = config_or_problem({"epochs": None})
    assert config is None and problem == "epochs must be a whole number, not None"  # words, not a TypeError's


def test_an_experiment_changes_its_preset_and_names_the_run():
    assert starting_config("classroom") == PRESETS["classroom"]
    assert starting_config("classroom", "sigmoid") == PRESETS["classroom"].replace(activation="sigmoid")
    assert run_label("classroom", "sigmoid") == "classroom-sigmoid" and run_label("smoke", None) == "smoke"
    assert preset_already_does("book", "xavier") and not preset_already_does("classroom", "xavier")


def test_a_run_saved_when_augmentation_was_a_switch_still_reads():
    saved = PRESETS["classroom"].to_dict()
    for switch, choice in ((True, "flip-shift"), (False, "none")):
        assert RunConfig.from_dict({**saved, "augment": switch}).augment == choice
    with pytest.raises(ValueError, match="augment must be one of none, flip-shift, drawings"):
        RunConfig(augment="mirror")


def test_a_run_saved_when_standardising_was_a_switch_still_reads():
    saved = {key: value for key, value in PRESETS["classroom"].to_dict().items() if key != "input_normalisation"}
    for switch, choice in ((True, "standardise"), (False, "none")):
        assert RunConfig.from_dict({**saved, "standardise_input": switch}).input_normalisation == choice
    with pytest.raises(ValueError, match="standardise input must be true or false, not 'no'"):
        RunConfig.from_dict({**saved, "standardise_input": "no"})  # a damaged file is refused, not read as on


def test_the_summary_names_what_changes_the_loss_or_the_weights_beyond_the_chapter():
    plain = RunConfig(resize=67).summary()
    assert "smoothing" not in plain and "decay" not in plain
    changed = RunConfig(resize=67, label_smoothing=0.1, weight_decay=5e-4).summary()
    assert "label smoothing 0.1" in changed and "weight decay 0.0005" in changed
