"""The classroom's roles: who may stop, resume or delete which run, the instructor's passcode and limits on what
students start, and the run the whole class looks at.

Without a passcode (one person on a laptop) everyone is the instructor and nothing is limited. The instructor's
choices live in the runs folder (``classroom.json``), so every session and a restarted server see them.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .config import EXPERIMENTS, PRESETS, RunConfig, starting_config
from .processes import RESUMABLE_STATES
from .runs import RunDir, write_atomically

PASSCODE_ENV = "ALEXNET_EXPLORER_INSTRUCTOR_PASSCODE"
PASSCODE_SECRET = "instructor_passcode"  # its key in .streamlit/secrets.toml
WRONG_PASSCODE_DELAY = 1.0  # seconds before a wrong passcode is answered: guessing stays slow
SIGN_IN_SECONDS = 12 * 3600  # an instructor's sign-in outlasts reloads for a school day at most
SETTINGS_FILE = "classroom.json"
STOP, CANCEL, RESUME = "stop", "cancel", "resume"  # what a person may do to a run
_guessing = threading.Lock()


@dataclass(frozen=True)
class Person:
    """Who asks: an app session's id (or 'terminal'), whether they act as the instructor, and the network address
    their browser connects from (a new private window is a new id, but the same laptop)."""

    id: str
    instructor: bool
    address: str | None = None

    def started(self, run: RunDir) -> bool:
        """Whether this person started the run: from this browser, or from this laptop's address (loopback, shared
        by every browser on the server itself, does not count)."""
        return (run.owner is not None and run.owner == self.id) or (
            _laptop(self.address) is not None and run.address == self.address)


def _laptop(address: str | None) -> str | None:
    """A browser's network address when it names a laptop: not loopback (every browser on the server), not junk."""
    try:
        return address if address and not ipaddress.ip_address(address).is_loopback else None
    except ValueError:
        return None


TERMINAL = Person("terminal", instructor=True)  # the command line and the one-person app: everything is allowed


def may_manage(person: Person, run: RunDir) -> bool:
    """Whether this person may stop, resume, cancel, rename or delete the run: the instructor, or who started it
    (see may_resume)."""
    return person.instructor or (run.owner is not None and run.owner == person.id)


def may_delete(person: Person, run: RunDir, settings: Settings) -> bool:
    """may_manage, except that the class run every page opens on is the instructor's to delete."""
    return may_manage(person, run) and (person.instructor or settings.class_run != run.name)


def may_resume(person: Person, run: RunDir) -> bool:
    """may_manage, except that a run the instructor held is the instructor's to resume."""
    return may_manage(person, run) and (person.instructor or not run.held)


def holds(person: Person, run: RunDir) -> bool:
    """Whether this person stopping or unqueueing the run holds it: the instructor acting on a student's run (so
    that a stop made to free the machine for the class is not undone by a click)."""
    return person.instructor and run.owner is not None and run.owner != person.id


def allowed_actions(person: Person, run: RunDir, state: str, stopping: bool = False) -> frozenset[str]:
    """What this person may do to a run in this state: STOP it while it runs (unless a stop is pending), CANCEL it
    while it is queued, RESUME it once it stopped or failed (see may_resume); nothing unless they may manage it."""
    if not may_manage(person, run):
        return frozenset()
    offered = {STOP: state == "running" and not stopping, CANCEL: state == "queued",
               RESUME: state in RESUMABLE_STATES and may_resume(person, run)}
    return frozenset(action for action, allowed in offered.items() if allowed)


def started_by(run: RunDir, person: Person) -> str:
    """Who started the run, as this person is told: 'you', 'another browser' or 'a terminal'."""
    if run.owner == person.id:
        return "you"
    return "a terminal" if run.owner in (None, TERMINAL.id) else "another browser"


def passcode_matches(given: str, expected: str) -> bool:
    """Whether a typed passcode is the instructor's, compared in constant time (digests, so the length leaks
    nothing either)."""
    return hmac.compare_digest(_digest(given), _digest(expected))


def try_passcode(given: str, expected: str) -> bool:
    """passcode_matches, with a wrong guess answered only after WRONG_PASSCODE_DELAY; the wait is taken one guess at
    a time for the whole server, so that guesses from many sessions at once are no faster than from one."""
    if passcode_matches(given, expected):
        return True
    with _guessing:
        time.sleep(WRONG_PASSCODE_DELAY)
    return False


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class SignIns:
    """The browsers signed in as the instructor, held in the server's memory by browser id (browser_id), so that a
    reload, which starts a new session in the same browser, keeps the sign-in: nothing is given to the browser to
    keep. Each lasts until signed out, the server restarts, the passcode changes or SIGN_IN_SECONDS pass."""

    def __init__(self, lasting: float = SIGN_IN_SECONDS):
        self.lasting = lasting
        self._signed_in: dict[str, tuple[float, bytes]] = {}  # browser id → (until, the passcode's digest)
        self._lock = threading.Lock()  # the app's sessions are threads of one process

    def sign_in(self, browser: str, passcode: str, now: float | None = None) -> None:
        """Remember that this browser entered this passcode (checked by the caller)."""
        with self._lock:
            self._signed_in[browser] = ((time.time() if now is None else now) + self.lasting, _digest(passcode))

    def signed_in(self, browser: str, passcode: str, now: float | None = None) -> bool:
        """Whether this browser signed in with this passcode (the current one) and the sign-in has not expired."""
        with self._lock:
            until, digest = self._signed_in.get(browser, (0.0, b""))
        return (time.time() if now is None else now) < until and hmac.compare_digest(digest, _digest(passcode))

    def sign_out(self, browser: str) -> None:
        """Forget this browser's sign-in."""
        with self._lock:
            self._signed_in.pop(browser, None)


def browser_id(cookie: object) -> str | None:
    """The id of the browser a session runs in, from the secret of Streamlit's XSRF cookie (which lasts as long as
    the browser session, so it names the browser, not the tab); None without one (AppTest). The cookie holds the
    secret masked afresh on every page load, in Tornado's format '2|mask|masked token|time': unmasked by XOR with
    the repeated 4-byte mask."""
    if not isinstance(cookie, str) or not cookie.startswith("2|"):
        return None
    try:
        _, mask, masked, _ = cookie.split("|")
        mask, masked = bytes.fromhex(mask), bytes.fromhex(masked)
    except ValueError:
        return None
    token = bytes(byte ^ mask[i % len(mask)] for i, byte in enumerate(masked)) if mask else None
    return hashlib.sha256(token).hexdigest()[:16] if token else None


@dataclass(frozen=True)
class Caps:
    """What the instructor lets students start (None: no limit)."""

    presets_only: bool = False  # a preset, or a preset with one of the chapter's experiments, as it is
    max_active: int | None = None  # runs queued or training at once, per session
    max_cpu_resize: int | None = None  # input size on a CPU

    def check(self, config: RunConfig, device: str, active: int) -> None:
        """Raise ValueError saying which limit a student's new run breaks; ``device`` is where it would train,
        ``active`` how many runs the session has queued or training already."""
        if self.presets_only and config.replace(device="auto") not in allowed_configs():
            raise ValueError("the instructor allows only the presets and the chapter's experiments, unchanged")
        if self.max_active is not None and active >= self.max_active:
            raise ValueError(f"the instructor allows {self.max_active} run{'s' * (self.max_active != 1)} queued "
                             "or training per student at a time: wait for one to end, or cancel one")
        if self.max_cpu_resize is not None and device == "cpu" and config.resize > self.max_cpu_resize:
            raise ValueError(f"the instructor allows inputs up to {self.max_cpu_resize} px on a CPU, not "
                             f"{config.resize}")


    def describe(self) -> str | None:
        """The limits in a sentence for the students, or None when there are none."""
        limits = [text for text, on in (
            ("only the presets and the chapter's experiments, unchanged", self.presets_only),
            (f"at most {self.max_active} run{'s' * (self.max_active != 1)} queued or training at a time",
             self.max_active is not None),
            (f"inputs up to {self.max_cpu_resize} px on a CPU", self.max_cpu_resize is not None)) if on]
        return "The instructor allows " + "; ".join(limits) + "." if limits else None


def allowed_configs() -> list[RunConfig]:
    """Every preset, alone and with each experiment (Caps.check compares them whatever the device)."""
    return [starting_config(preset, experiment) for preset in PRESETS for experiment in (None, *EXPERIMENTS)]


@dataclass(frozen=True)
class Settings:
    """The instructor's choices for the class: the limits on students, and the class run every page opens on."""

    caps: Caps = field(default_factory=Caps)
    class_run: str | None = None  # a run folder's name
    damaged: str | None = None  # why the settings file could not be read: students start nothing until it is saved


def read_settings(root: Path) -> Settings:
    """The class's settings from the runs folder: defaults when there are none, and ``damaged`` saying why when the
    file cannot be read (its limits are not silently dropped: students are refused until the instructor saves)."""
    path = root / SETTINGS_FILE
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as error:
        return Settings(damaged=f"{path} cannot be read ({type(error).__name__})")
    if not isinstance(saved, dict):
        return Settings(damaged=f"{path} is damaged (it holds no settings)")
    caps = saved.get("caps") if isinstance(saved.get("caps"), dict) else {}
    class_run = saved.get("class_run")
    # Each limit on its own: a key this version does not know, or a value of the wrong type, loses that one only.
    return Settings(Caps(presets_only=caps.get("presets_only") is True,
                         max_active=_count(caps.get("max_active")), max_cpu_resize=_count(caps.get("max_cpu_resize"))),
                    class_run if isinstance(class_run, str) else None)


def _count(value: object) -> int | None:
    """A positive whole number from the settings file, else None (no limit)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def write_settings(root: Path, settings: Settings, by: Person) -> None:
    """Keep the class's settings in the runs folder; PermissionError unless ``by`` is the instructor."""
    if not by.instructor:
        raise PermissionError("only the instructor can change the class's settings")
    root.mkdir(parents=True, exist_ok=True)
    write_atomically(root / SETTINGS_FILE, lambda p: p.write_text(json.dumps(asdict(settings), indent=2)))
