"""An offline classroom: every request the app's pages make goes to the app's own server, none to a third party."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import Page, Request, expect

from alexnet_explorer import launcher
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import DATA_ENV, load_fashion_mnist

pytestmark = pytest.mark.browser
WAIT_MS = 90_000
LOCAL_SCHEMES = ("data", "blob", "about")


def test_pages_ask_nothing_of_other_servers_while_a_run_trains_and_a_picture_is_classified(
        app_server: tuple[str, Path], page: Page, tmp_path: Path, fixture_data_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, runs = app_server
    own = urlsplit(url).netloc
    requested: list[str] = []

    def record(request: Request) -> None:
        requested.append(request.url)

    page.on("request", record)
    monkeypatch.setenv(DATA_ENV, str(fixture_data_dir))
    run = launcher.launch(PRESETS["smoke"].replace(epochs=2, limit_train=64, limit_test=32, device="cpu"),
                          label="offline", root=runs)
    page.goto(url)
    expect(page.get_by_role("heading", name="AlexNet Explorer")).to_be_visible(timeout=WAIT_MS)
    page.goto(f"{url}/train")
    expect(page.get_by_role("strong").filter(has_text=f"Run {run.title}")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("examples/sec on cpu").first).to_be_visible(timeout=WAIT_MS)  # the run ended
    page.goto(f"{url}/filters")
    expect(page.get_by_role("tab", name="Evolution")).to_be_visible(timeout=WAIT_MS)
    page.goto(f"{url}/classify")
    page.get_by_role("tab", name="Upload").click()
    picture = tmp_path / "garment.png"
    Image.fromarray(load_fashion_mnist(fixture_data_dir).test_images[0, 0].numpy()).save(picture)
    page.locator("input[type=file]").set_input_files(picture)
    expect(page.get_by_role("heading", name="The network says")).to_be_visible(timeout=WAIT_MS)

    assert requested, "no request was recorded"
    elsewhere = [u for u in requested if urlsplit(u).scheme not in LOCAL_SCHEMES and urlsplit(u).netloc != own]
    assert elsewhere == []
