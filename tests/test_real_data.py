"""A short run of the CPU preset on the real Fashion-MNIST (when Debian's copy is installed)."""
import pytest

from conftest import real_data
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import DEBIAN_DIR, load_fashion_mnist
from alexnet_explorer.train import train

pytestmark = [pytest.mark.real_data, real_data]


def test_classroom_preset_learns_well_above_chance_in_a_short_run():
    config = PRESETS["classroom"].replace(epochs=1, limit_train=2000, limit_test=1000, device="cpu")
    ended = train(config, load_fashion_mnist(DEBIAN_DIR, allow_download=False))
    assert ended.status == "finished"
    assert ended.test_acc > 0.4  # chance is 0.1
