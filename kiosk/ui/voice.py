"""Spoken prompts for the visitor (``[ui] voice``, off by default), in ``[ui] language``.

"Please wear a mask" on a denial, "Thank you" on a grant, and at most once per visit a checking
hint ("Please look at the camera", "Please adjust your mask") when no decision has come for a
second. The sentences are the ``voice.*`` keys of the message catalogue (kiosk/ui/messages.py).

Speech is Debian's offline espeak-ng (``apt-get install espeak-ng``), run on a worker thread so
the window never waits for it: each prompt is rendered to a WAV file with ``espeak-ng -w`` and
played with ``aplay`` when it is installed, else spoken by espeak-ng itself. One prompt plays at a
time and at most one waits: a newer prompt replaces the waiting one, and a prompt that could not
start within a few seconds is dropped (the visitor has moved on). A kiosk without audio output
says so once in the log, at INFO, and carries on. This module does not import Tk.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from kiosk.config import DECISION_KINDS
from kiosk.ui.messages import MESSAGES, message

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.config import Config
    from kiosk.records import DecisionEvent

log = logging.getLogger(__name__)

ENGINE = "espeak-ng"
PLAYER = "aplay"
VOICES = {"en": "en", "fr": "fr"}  # [ui] language -> espeak-ng voice
STALE_S = 3.0  # a prompt not started this long after it was asked for is dropped
HINT_AFTER_S = 1.0  # a checking hint is spoken only when no decision came this long
RUN_TIMEOUT_S = 20.0
DECISION_KEYS = {"granted": "voice.granted", "denied": "voice.denied", "uncertain": "voice.uncertain"}


class AudioUnavailable(Exception):
    """The prompt could not be played (no sound card, no audio server, the engine failed)."""


def engine_path() -> Optional[str]:
    return shutil.which(ENGINE)


def voice_problem(cfg: "Config") -> Optional[str]:
    """One line when voice prompts are on but cannot be spoken, else None."""
    if cfg.ui.voice and engine_path() is None:
        return (f"[ui] voice = true, but {ENGINE} is not installed (apt-get install {ENGINE}):"
                " the kiosk runs without spoken prompts")
    return None


def _run(command: list[str]) -> str:
    """Run an engine or player; its stderr, or ``AudioUnavailable`` when it failed."""
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=RUN_TIMEOUT_S, text=True, errors="replace")
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AudioUnavailable(f"{command[0]}: {exc}") from None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    # espeak-ng exits 0 even when it found no audio device; it says "error: ..." on stderr
    if done.returncode != 0 or any(line.lower().startswith("error") for line in lines):
        raise AudioUnavailable(f"{command[0]}: {lines[-1] if lines else f'exit status {done.returncode}'}")
    return done.stderr


def render(text: str, language: str, wav_path: Path, engine: Optional[str] = None) -> Path:
    """``text`` spoken in ``language``, written as a WAV file (needs no audio device)."""
    engine = engine or engine_path()
    if engine is None:
        raise AudioUnavailable(f"{ENGINE} is not installed")
    _run([engine, "-v", VOICES.get(language, "en"), "-w", str(wav_path), "--", text])
    return Path(wav_path)


def speak(text: str, language: str) -> None:
    """Say ``text`` on the default audio output: rendered then played with aplay when there is
    one, else by espeak-ng itself. ``AudioUnavailable`` when nothing could be played."""
    engine = engine_path()
    if engine is None:
        raise AudioUnavailable(f"{ENGINE} is not installed")
    player = shutil.which(PLAYER)
    if player is None:
        _run([engine, "-v", VOICES.get(language, "en"), "--", text])
        return
    with tempfile.TemporaryDirectory(prefix="kiosk-voice-") as folder:
        wav = render(text, language, Path(folder) / "prompt.wav", engine)
        _run([player, "-q", str(wav)])


class Speaker:
    """A worker thread that says one prompt at a time; at most one more waits."""

    def __init__(self, language: str, play: Optional[Callable[[str], None]] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.language = language
        self._play = play or (lambda text: speak(text, language))
        self._clock = clock
        self._cond = threading.Condition()
        self._waiting: Optional[tuple[float, str]] = None
        self._stopping = False
        self._told_no_audio = False
        self.spoken: list[str] = []  # what was played, for tests and the log
        self.dropped = 0  # prompts replaced by a newer one or too old to start
        self._thread = threading.Thread(target=self._work, name="voice", daemon=True)
        self._thread.start()

    def say(self, text: str) -> None:
        """Queue ``text``; never waits. A prompt still waiting is replaced (it would be stale)."""
        with self._cond:
            if self._stopping:
                return
            if self._waiting is not None:
                self.dropped += 1
            self._waiting = (self._clock(), text)
            self._cond.notify()

    def _work(self) -> None:
        while True:
            with self._cond:
                while self._waiting is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                asked_at, text = self._waiting  # type: ignore[misc]
                self._waiting = None
            if self._clock() - asked_at > STALE_S:
                self.dropped += 1
                continue
            try:
                self._play(text)
                self.spoken.append(text)
            except AudioUnavailable as exc:
                if not self._told_no_audio:  # once: a kiosk without speakers is a normal kiosk
                    self._told_no_audio = True
                    log.info("voice prompts cannot be played (%s); the kiosk carries on without them", exc)
            except Exception:  # a voice failure must never stop the kiosk
                log.exception("voice prompt failed")

    def stop(self, timeout_s: float = 2.0) -> None:
        """Drop what waits and end the thread (a prompt playing finishes on its own)."""
        with self._cond:
            self._stopping = True
            self._waiting = None
            self._cond.notify()
        self._thread.join(timeout_s)


class VisitorVoice:
    """What the visitor hears, from the window's decisions and banner states. Silent (does nothing)
    when ``speaker`` is None."""

    def __init__(self, language: str, speaker: Optional[Speaker],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.language = language
        self.speaker = speaker
        self._clock = clock
        self._checking_since: Optional[float] = None
        self._hinted = False  # this visit heard its hint (or its decision) already

    @classmethod
    def from_config(cls, cfg: "Config") -> "VisitorVoice":
        """On when ``[ui] voice`` is and espeak-ng is installed (``voice_problem`` says why not)."""
        if not cfg.ui.voice:
            return cls(cfg.ui.language, None)
        if engine_path() is None:
            log.debug("voice prompts off: %s is not installed", ENGINE)  # said once by the config check
            return cls(cfg.ui.language, None)
        return cls(cfg.ui.language, Speaker(cfg.ui.language))

    def _say(self, key: str) -> None:
        if self.speaker is not None and key in MESSAGES["en"]:  # a hint with no spoken sentence stays unsaid
            self.speaker.say(message(key, self.language))

    def on_decision(self, event: "DecisionEvent") -> None:
        """A decision episode: "Thank you", or "Please wear a mask" (also after a soft-policy grant)."""
        self._hinted = True  # no hint after the decision in this visit
        if event.decision == "granted" and event.policy_note:
            self._say("voice.granted.soft")
        elif event.decision in DECISION_KEYS:
            self._say(DECISION_KEYS[event.decision])

    def on_state(self, state: str, hint: str = "") -> None:
        """The banner's state: a hint once per visit when checking lasts; a new visit after it."""
        if state == "checking":
            now = self._clock()
            if self._checking_since is None:
                self._checking_since = now
            if hint and not self._hinted and now - self._checking_since >= HINT_AFTER_S:
                self._hinted = True
                self._say(f"voice.{hint}")
            return
        self._checking_since = None
        if state not in DECISION_KINDS:  # nobody there (or no picture): the next face is a new visit
            self._hinted = False

    def stop(self) -> None:
        if self.speaker is not None:
            self.speaker.stop()
