"""A class on one server: concurrent browser sessions against the real app while a classroom run trains.

    python -m benchmarks.classroom_load --sessions 8 --stagger 10 --watch 60 --epochs 16

The real app (``streamlit run``, a runs folder of its own) and Debian's Chromium, one browser context per student.
Before the class, a short smoke run is trained and pinned as the class run, so that Filters and Classify open on a
network that does not change while they are checked. Then a classroom run is launched; after ``--unwatched``
epochs with nobody watching (the teacher opens each page once, untimed), the sessions arrive ``--stagger`` seconds
apart and each, once:

0. opens the app's address (its home page, the first load of the app in that browser);
1. opens Train by the navigation, as every later page (no reload), and waits for the live curves and the run
   history (a finished render);
2. opens Filters, shows the feature maps of its own test image (for session n, the test set's T-shirt n + 1) and
   checks them against the same maps computed here, in one session;
3. opens Classify, uploads its own picture (a test garment of its own, dark on white and enlarged, as a photo
   would be) and checks the ten probabilities against the same answer computed here;
4. goes back to Train and watches the live run, until every session is there and ``--watch`` seconds more.

It prints each page's median and 95th-percentile time to a finished render, every error a page showed (with a
screenshot in ``--screenshots``), every answer that was not the session's own, the run's training images/s while
the class opened its pages and while it only watched, against before and after (from its progress points wholly
inside each stretch; one run), where the CPU went in each stretch (the browsers, the app's server), and the server's
peak memory. The browsers share the server's cores here; in class they are the students' laptops.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import io
import math
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.async_api import Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from alexnet_explorer.events import Progress
from alexnet_explorer.classifier import load_classifier
from alexnet_explorer import classroom, inspection, launcher, plots, prediction
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import CLASSES, load_fashion_mnist, to_model_input
from alexnet_explorer.preprocess import prepare_upload, to_tensor

from .common import load_average, percentile, speeds_by_stretch
from .serving import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PeakMemory,
    app_server,
    busy_cpu_seconds,
    cpu_seconds,
    wait_until_over,
)

WAIT_MS = 240_000
ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"


@dataclass
class Session:
    """What one student's session met: seconds to a finished render per page, errors shown, wrong answers."""

    number: int
    seconds: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    uploads: int = 0  # times the picture was given to the uploader
    window: tuple[float, float] = (math.inf, -math.inf)  # from its arrival to its return to Train


@dataclass(frozen=True)
class Reference:
    """The answers one session should get, computed here without any concurrency."""

    maps: np.ndarray  # the feature maps figure's tiles
    probabilities: np.ndarray  # in percent, class order
    picture: bytes  # the PNG the session uploads


def references(checkpoint: Path, sessions: int) -> list[Reference]:
    """Each session's own test image's conv1 maps and its own picture's probabilities, from the pinned network."""
    model = load_classifier(checkpoint)
    data = load_fashion_mnist()
    labels = data.test_labels.numpy()
    shirts = np.flatnonzero(labels == 0)
    answers = []
    for number in range(sessions):
        x = to_model_input(to_tensor(data.test_images[shirts[number + 1], 0].numpy()), model.size)
        maps = inspection.feature_maps(model.net, x, "conv1")
        figure = plots.feature_maps_figure(maps, inspection.strongest_first(maps))
        garment = data.test_images[np.flatnonzero(labels == number % len(CLASSES))[number // len(CLASSES) + 50], 0]
        picture = Image.fromarray(255 - garment.numpy()).resize((112, 112), Image.BILINEAR)
        png = io.BytesIO()
        picture.save(png, format="PNG")
        upload = prepare_upload(png.getvalue(), f"garment-{number}.png")
        probabilities = 100 * prediction.probabilities(model, [upload.prepared.image28])[0]
        answers.append(Reference(np.array(figure.data[0].z, dtype=float), probabilities, png.getvalue()))
    return answers


async def figure_data(page: Page, key: str, attribute: str) -> np.ndarray:
    """An attribute ('z', 'x') of the first trace of the Plotly chart with this widget key, as the browser holds it
    (a list, or Plotly's typed-array form: base64 bytes of a dtype and a shape)."""
    chart = page.locator(f".st-key-{key} .js-plotly-plot").first
    await chart.wait_for(timeout=WAIT_MS)
    # The element comes before Plotly has put its data on it (or while it redraws): wait for the data.
    deadline = time.monotonic() + WAIT_MS / 1000
    while (data := await chart.evaluate(f"(plot) => plot.data && plot.data[0] ? plot.data[0].{attribute} : null")
           ) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
    if data is None:
        raise TimeoutError(f"the chart {key} never held its data")
    if isinstance(data, dict):
        array = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        shape = [int(side) for side in str(data.get("shape", len(array))).split(",")]
        return array.reshape(shape).astype(float)
    return np.array([[math.nan if v is None else v for v in row] for row in data] if data and isinstance(data[0], list)
                    else data, dtype=float)


def same(shown: np.ndarray, expected: np.ndarray) -> bool:
    """Whether a chart shows the expected values (to the float32 of the wire)."""
    return shown.shape == expected.shape and np.allclose(shown, expected, rtol=1e-4, atol=1e-4, equal_nan=True)


def difference(shown: np.ndarray, expected: np.ndarray) -> str:
    """How far a chart is from the expected values."""
    if shown.shape != expected.shape:
        return f"shape {shown.shape} instead of {expected.shape}"
    return f"largest difference {np.nanmax(np.abs(shown - expected)):.3g}, shown {np.round(shown, 2).tolist()[:10]}"


async def redrawn(page: Page, key: str, attribute: str, before: np.ndarray) -> np.ndarray:
    """A chart's values once the page has drawn new ones (other than ``before``) and they stay put for a second."""
    deadline = time.monotonic() + WAIT_MS / 1000
    shown = before
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = await figure_data(page, key, attribute)
        if not same(now, before) and same(now, shown):
            await asyncio.sleep(1.0)
            if same(await figure_data(page, key, attribute), now):
                return now
        shown = now
    return shown


async def errors_shown(page: Page, where: str, session: Session) -> None:
    for text in await page.locator(ERRORS).all_inner_texts():
        session.errors.append(f"{where}: {text.strip()[:200]}")


async def timed(session: Session, page: Page, page_name: str, work, screenshots: Path) -> None:
    tic = time.monotonic()
    try:
        await work()
        session.seconds[page_name] = time.monotonic() - tic
    except Exception as error:  # a timeout or a missing element: the page did not render
        seen = await where_the_tab_is(page, screenshots / f"session-{session.number}-{page_name}.png")
        session.errors.append(f"{page_name}: {type(error).__name__}: {str(error).splitlines()[0][:200]} ({seen})")


async def where_the_tab_is(page: Page, screenshot: Path) -> str:
    """The tab's address and titles, photographed; what could be seen of it if the tab itself has failed."""
    try:
        titles = await page.locator("h1").all_inner_texts()
        await page.screenshot(path=screenshot, full_page=True)
        return f"the tab shows {page.url}, titled {titles}"
    except Exception as error:  # a crashed or closed tab: the report must still come
        return f"the tab cannot be read: {type(error).__name__}"


async def arrive(page: Page, url: str) -> None:
    """The app's address typed in: its home page, drawn with the navigation."""
    await page.goto(url)
    await page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train", exact=True).wait_for(timeout=WAIT_MS)
    await page.get_by_role("heading", name="AlexNet Explorer").first.wait_for(timeout=WAIT_MS)


HEADINGS = {"Train": "Train AlexNet on Fashion-MNIST", "Filters": "Filters and features",
            "Classify": "Classify a garment"}


async def go_to(page: Page, name: str) -> None:
    """A page of the app, by its link in the navigation (no reload: as a student moves around the app), once its
    title is shown."""
    await page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True).click()
    await page.get_by_role("heading", name=HEADINGS[name]).wait_for(timeout=WAIT_MS)


async def open_train(page: Page) -> None:
    """Train, drawn: the live curves and the run history."""
    await go_to(page, "Train")
    await page.locator(".legendtext").filter(has_text="train loss").first.wait_for(timeout=WAIT_MS)
    await page.get_by_role("heading", name="Run history").wait_for(timeout=WAIT_MS)
    await page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=WAIT_MS)


async def upload(page: Page, picture: Path, session: Session) -> None:
    """Give the uploader the picture once the page is still, as a person would (a file given within milliseconds
    of the tab's rerun can go with the element it was given to), and see it listed; give it again if not."""
    listed = page.get_by_test_id("stFileUploader").get_by_text(picture.name, exact=True)
    for _ in range(3):
        await page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=WAIT_MS)
        await asyncio.sleep(1.0)
        await page.locator("input[type='file']").first.set_input_files(str(picture))
        session.uploads += 1
        try:
            await listed.wait_for(timeout=15_000)
            return
        except PlaywrightTimeout:
            continue
    await listed.wait_for(timeout=WAIT_MS)


async def student(browser, url: str, number: int, reference: Reference, picture: Path, delay: float,
                  screenshots: Path) -> Session:
    """One student's visit: the home page, then (by the navigation) Train, Filters with their own test image,
    Classify with their own picture, and back to Train to watch (the tab is left open, watching)."""
    await asyncio.sleep(delay)
    session = Session(number)
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)  # a slow page counts as slow, not as an error
    page = await context.new_page()
    session.window = (time.time(), session.window[1])

    async def filters() -> None:
        await go_to(page, "Filters")
        await page.locator(".st-key-filter_grid .js-plotly-plot").first.wait_for(timeout=WAIT_MS)
        await page.get_by_role("tab", name="Feature maps").click()
        first = await figure_data(page, "maps_grid", "z")  # the maps of the test image shown first (#0)
        which = page.locator(".st-key-maps_pick_index input")
        await which.fill(str(number + 1))
        await which.press("Enter")
        maps = await redrawn(page, "maps_grid", "z", first)
        if not same(maps, reference.maps):
            session.wrong.append(f"Filters: the feature maps are not those of the session's own test image "
                                 f"({difference(maps, reference.maps)})")

    async def classify() -> None:
        await go_to(page, "Classify")
        await page.get_by_role("tab", name="Upload").click()
        await upload(page, picture, session)
        answer = await redrawn(page, "classify_probabilities", "x", np.empty(0))
        if not same(answer, reference.probabilities):
            session.wrong.append(f"Classify: the probabilities are not those of the session's own picture "
                                 f"({difference(answer, reference.probabilities)})")

    for name, work in (("Home", lambda: arrive(page, url)), ("Train", lambda: open_train(page)),
                       ("Filters", filters), ("Classify", classify), ("Train again", lambda: open_train(page))):
        await timed(session, page, name, work, screenshots)
        await errors_shown(page, name, session)
    session.window = (session.window[0], time.time())
    return session


async def teacher_opens_the_pages(browser, url: str) -> None:
    """The teacher's own visit before the class arrives (untimed): the server has loaded what the pages use."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto(f"{url}/train")
    await page.locator(".legendtext").filter(has_text="train loss").first.wait_for(timeout=WAIT_MS)
    await page.goto(f"{url}/filters")
    await page.get_by_role("tab", name="Feature maps").click()
    await page.locator(".st-key-maps_grid .js-plotly-plot").first.wait_for(timeout=WAIT_MS)
    await page.goto(f"{url}/classify")
    await page.get_by_role("tab", name="Upload").wait_for(timeout=WAIT_MS)
    await context.close()


@dataclass(frozen=True)
class CpuClock:
    """CPU seconds used so far by the whole machine, the app's server and the browsers, and the time."""

    machine: float
    server: float
    browsers: float
    time: float

    @classmethod
    def read(cls, server_pid: int) -> CpuClock:
        browsers = 0.0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if b"chrom" in Path(f"/proc/{pid}/comm").read_bytes():
                    browsers += cpu_seconds(int(pid))
            except OSError:
                pass  # a process that has just ended
        return cls(busy_cpu_seconds(), cpu_seconds(server_pid), browsers, time.time())

    def since(self, start: CpuClock) -> CpuClock:
        return CpuClock(self.machine - start.machine, self.server - start.server, self.browsers - start.browsers,
                        self.time - start.time)


async def class_visit(url: str, refs: list[Reference], pictures: list[Path], stagger: float, watch: float,
                      screenshots: Path, server_pid: int) -> tuple[list[Session], list[CpuClock]]:
    """Every student's visit; then all of them watching Train for ``watch`` seconds. The CPU clocks read when the
    first student arrives, when the last is back on Train, and when the watch ends (the browsers are still open:
    a closed one's processes take their CPU seconds with them)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            await teacher_opens_the_pages(browser, url)
            clocks = [CpuClock.read(server_pid)]
            sessions = await asyncio.gather(*(student(browser, url, i, refs[i], pictures[i], i * stagger, screenshots)
                                            for i in range(len(refs))))
            clocks.append(CpuClock.read(server_pid))
            await asyncio.sleep(watch)
            clocks.append(CpuClock.read(server_pid))
            return list(sessions), clocks
        finally:
            await browser.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--stagger", type=float, default=1.0, help="seconds between two students' arrivals")
    parser.add_argument("--watch", type=float, default=60.0, help="seconds all of them watch Train at the end")
    parser.add_argument("--unwatched", type=float, default=1.0, help="epochs trained before the class arrives")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", default="classroom", choices=sorted(PRESETS), help="the run the class watches")
    parser.add_argument("--epochs", type=int, help="the preset's epochs unless given: enough for the run to outlast "
                                                   "the visit")
    parser.add_argument("--niceness", type=int, default=launcher.TRAINING_NICENESS, choices=range(20), metavar="0-19",
                        help="the training run's niceness (the app's, unless given: 0 trains level with the pages)")
    parser.add_argument("--screenshots", type=Path, default=Path(tempfile.gettempdir()) / "classroom_load_screenshots",
                        help="where a page that failed is photographed")
    args = parser.parse_args(argv)
    args.screenshots.mkdir(parents=True, exist_ok=True)
    # Read when this process starts the classroom run below: it starts at once (nothing else trains in this runs
    # folder), so it is not left to the queue keeper, a process of its own with the app's niceness.
    launcher.TRAINING_NICENESS = args.niceness
    print(f"{load_average()}; {args.sessions} sessions, {args.stagger:g} s apart, then {args.watch:g} s watching; "
          f"training at niceness {args.niceness}")
    with tempfile.TemporaryDirectory() as folder:
        runs, log = Path(folder) / "runs", Path(folder) / "streamlit.log"
        class_run = launcher.launch(PRESETS["smoke"].replace(device=args.device), label="class run", root=runs)
        if wait_until_over(class_run, 600) != "finished":
            raise SystemExit(f"the class run did not finish: {class_run.log_path.read_text()}")
        classroom.write_settings(runs, classroom.Settings(class_run=class_run.name), classroom.TERMINAL)
        refs = references(class_run.checkpoint_path, args.sessions)
        pictures = []
        for i, ref in enumerate(refs):
            pictures.append(Path(folder) / f"garment-{i}.png")
            pictures[-1].write_bytes(ref.picture)
        with app_server(runs, log) as (url, server_pid), PeakMemory(server_pid) as memory:
            config = PRESETS[args.preset].replace(device=args.device)
            run = launcher.launch(config.replace(epochs=args.epochs or config.epochs), label=args.preset, root=runs)
            while not any(isinstance(e, Progress) and e.epoch >= args.unwatched for e in run.read_events()):
                if not launcher.active_runs(runs):
                    raise SystemExit(f"the classroom run ended early: {run.read_status()}")
                time.sleep(1)
            sessions, clocks = asyncio.run(class_visit(url, refs, pictures, args.stagger, args.watch, args.screenshots,
                                                       server_pid))
            state = wait_until_over(run, 3600)
        visit = (min(s.window[0] for s in sessions), max(s.window[1] for s in sessions))
        watching = (clocks[1].time, clocks[2].time)
        speeds = speeds_by_stretch(run.read_events(), [visit, watching])
        report(sessions, speeds, state, memory.peak_mib, visit, watching)
        report_cpu(clocks, len(sessions))
        print(load_average())


def report_cpu(clocks: list[CpuClock], sessions: int) -> None:
    """Where the machine's cores went while the class opened its pages, and while it watched."""
    cores = os.cpu_count() or 1
    for name, (start, end) in (("opening pages", clocks[:2]), ("watching Train", clocks[1:])):
        used = end.since(start)
        print(f"CPU while the class was {name} ({used.time:.0f} s): machine {used.machine:.0f} s of "
              f"{cores * used.time:.0f}; browsers {used.browsers:.0f} s ({used.browsers / sessions:.1f} s a "
              f"student); the app's server {used.server:.0f} s ({used.server / sessions:.2f} s a student, "
              f"{used.server / used.time:.2f} of a core)")


def report(sessions: list[Session], speeds: list[list[float]], state: str, peak_mib: float,
           visit: tuple[float, float], watching: tuple[float, float]) -> None:
    """The closing figures."""
    print(f"the class's pages: {visit[1] - visit[0]:.0f} s, then all watching: {watching[1] - watching[0]:.0f} s; "
          f"the classroom run {state}")
    print(f"{'page':<12} {'renders':>7} {'median s':>9} {'p95 s':>7} {'max s':>7}")
    for page in ("Home", "Train", "Filters", "Classify", "Train again"):
        times = [s.seconds[page] for s in sessions if page in s.seconds]
        if times:
            print(f"{page:<12} {len(times):>7} {statistics.median(times):>9.1f} {percentile(times, 0.95):>7.1f} "
                  f"{max(times):>7.1f}")
        else:
            print(f"{page:<12} {0:>7}")
    errors = [f"session {s.number}: {e}" for s in sessions for e in s.errors]
    wrong = [f"session {s.number}: {w}" for s in sessions for w in s.wrong]
    print(f"errors shown: {len(errors)}")
    for line in errors:
        print("  " + line)
    print(f"answers not the session's own: {len(wrong)}")
    for line in wrong:
        print("  " + line)
    given_again = sum(s.uploads - 1 for s in sessions if s.uploads > 1)
    print(f"pictures given to the uploader again (not listed within 15 s): {given_again}")
    outside, *inside = speeds
    for name, during in zip(("opening pages", "watching Train"), inside):
        if outside and during:
            ratio = statistics.median(during) / statistics.median(outside)
            print(f"training images/s while the class was {name}: {statistics.median(during):.1f} "
                  f"({len(during)} intervals) against {statistics.median(outside):.1f} without it "
                  f"({len(outside)} intervals): ratio {ratio:.2f}")
        else:
            print(f"training images/s while the class was {name}: not enough intervals (without it {len(outside)}, "
                  f"during {len(during)})")
    print(f"server peak memory: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
