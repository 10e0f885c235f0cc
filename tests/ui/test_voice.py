"""Spoken prompts: espeak-ng really renders each prompt of both languages to audible WAV audio, the
speaker thread never queues more than one prompt, and the visitor hears each sentence when it helps."""

from __future__ import annotations

import array
import logging
import math
import os
import shutil
import subprocess
import sys
import threading
import time
import wave
from datetime import datetime, timezone

import pytest
from tests.helpers.ui import kiosk, pump  # noqa: F401  (kiosk is a fixture)

from kiosk.config import PROJECT_ROOT, Config, with_overrides
from kiosk.records import DecisionEvent
from kiosk.ui import voice
from kiosk.ui.messages import MESSAGES, message
from kiosk.ui.voice import AudioUnavailable, Speaker, VisitorVoice, render, voice_problem

VOICE_KEYS = sorted(k for k in MESSAGES["en"] if k.startswith("voice."))
RMS_FLOOR = 300  # int16 samples: espeak-ng speech is in the thousands, silence is 0


def rms_and_seconds(path) -> tuple[float, float]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        samples = array.array("h", wav.readframes(wav.getnframes()))
        seconds = wav.getnframes() / wav.getframerate()
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples))), seconds


@pytest.mark.parametrize("language", ["en", "fr"])
def test_espeak_renders_every_prompt_to_audible_speech(tmp_path, language):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng): no prompt can be rendered")
    assert VOICE_KEYS, "the catalogue has no spoken prompts"
    for key in VOICE_KEYS:
        wav = render(message(key, language), language, tmp_path / f"{key}.{language}.wav")
        rms, seconds = rms_and_seconds(wav)
        assert rms > RMS_FLOOR, f"{key} ({language}) is silent: RMS {rms:.0f}"
        assert 0.3 < seconds < 10, f"{key} ({language}) lasts {seconds:.2f} s"


def test_a_missing_engine_is_one_line_when_voice_is_on(monkeypatch):
    monkeypatch.setattr(voice, "engine_path", lambda: None)
    on = with_overrides(Config(), {"ui.voice": True})
    assert voice_problem(Config()) is None  # voice off: nothing to say
    assert voice_problem(on) == ("[ui] voice = true, but espeak-ng is not installed (apt-get install espeak-ng):"
                                 " the kiosk runs without spoken prompts")
    assert VisitorVoice.from_config(on).speaker is None
    with pytest.raises(AudioUnavailable):
        render("Thank you.", "en", "/tmp/never.wav")


class SlowPlayer:
    """Plays a prompt until released, like a speaker that takes its time."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release = threading.Event()

    def __call__(self, text: str) -> None:
        self.started.append(text)
        assert self.release.wait(5)


def wait_for(condition, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_never_more_than_one_prompt_waits_and_a_newer_one_replaces_it():
    player = SlowPlayer()
    speaker = Speaker("en", play=player)
    try:
        started = time.perf_counter()
        speaker.say("one")
        assert wait_for(lambda: player.started == ["one"])
        for text in ("two", "three", "four"):  # while "one" plays
            speaker.say(text)
        assert time.perf_counter() - started < 1.0  # say() never waits for the speech
        player.release.set()
        assert wait_for(lambda: speaker.spoken == ["one", "four"])
        assert player.started == ["one", "four"] and speaker.dropped == 2
    finally:
        player.release.set()
        speaker.stop()


def test_a_prompt_that_could_not_start_in_time_is_dropped():
    now = [0.0]
    player = SlowPlayer()
    speaker = Speaker("en", play=player, clock=lambda: now[0])
    try:
        speaker.say("Thank you.")
        assert wait_for(lambda: player.started == ["Thank you."])
        speaker.say("Please wear a mask.")
        now[0] += voice.STALE_S + 1  # the first prompt played long: the visitor has gone
        player.release.set()
        assert wait_for(lambda: speaker.dropped == 1)
        assert speaker.spoken == ["Thank you."]
    finally:
        player.release.set()
        speaker.stop()


def test_no_audio_output_is_said_once_at_info_and_the_kiosk_carries_on(caplog):
    def no_device(text: str) -> None:
        raise AudioUnavailable("espeak-ng: error: No such file or directory")

    speaker = Speaker("en", play=no_device)
    try:
        with caplog.at_level(logging.INFO, logger="kiosk.ui.voice"):
            for _ in range(3):
                speaker.say("Please wear a mask.")
                assert wait_for(lambda: speaker._waiting is None)
                time.sleep(0.05)
        lines = [r for r in caplog.records if r.name == "kiosk.ui.voice"]
        assert len(lines) == 1 and lines[0].levelno == logging.INFO
        assert lines[0].getMessage() == ("voice prompts cannot be played (espeak-ng: error: No such file or directory);"
                                         " the kiosk carries on without them")
    finally:
        speaker.stop()


class Recorder:
    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, text: str) -> None:
        self.said.append(text)

    def stop(self) -> None:
        pass


def event(decision: str, policy_note: str = "") -> DecisionEvent:
    return DecisionEvent(time=datetime.now(timezone.utc), kiosk_id="door", decision=decision,
                         label="with_mask" if decision == "granted" else "without_mask", score=0.9, faces=1,
                         policy_note=policy_note)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_visitor_hears_the_decision_in_the_kiosk_language(language):
    recorder = Recorder()
    visitor = VisitorVoice(language, recorder)  # type: ignore[arg-type]
    visitor.on_decision(event("denied"))
    visitor.on_decision(event("granted"))
    visitor.on_decision(event("uncertain"))
    visitor.on_decision(event("granted", policy_note="soft policy: no mask, logged"))
    assert recorder.said == [message("voice.denied", language), message("voice.granted", language),
                             message("voice.uncertain", language), message("voice.granted.soft", language)]
    assert recorder.said[0] == {"en": "Please wear a mask.", "fr": "Veuillez porter un masque."}[language]
    assert recorder.said[1] == {"en": "Thank you.", "fr": "Merci."}[language]


def test_a_checking_hint_is_said_once_per_visit_and_only_when_the_decision_is_slow():
    now = [0.0]
    recorder = Recorder()
    visitor = VisitorVoice("en", recorder, clock=lambda: now[0])  # type: ignore[arg-type]

    def show(state: str, hint: str = "", after_s: float = 0.1) -> None:
        now[0] += after_s
        visitor.on_state(state, hint)

    show("waiting")
    show("checking", "look_at_camera")  # a quick visit: decided before a hint would help
    show("checking", "look_at_camera", 0.5)
    visitor.on_decision(event("granted"))
    show("granted", after_s=2)
    assert recorder.said == ["Thank you."]

    show("waiting")  # the next visitor takes long
    for _ in range(20):
        show("checking", "look_at_camera")
    show("checking", "adjust_mask")
    assert recorder.said == ["Thank you.", "Please look at the camera."]  # once, not every frame or new hint
    visitor.on_decision(event("denied"))
    show("denied")
    show("checking", "adjust_mask", 2)  # the same visitor, after the decision: no hint
    assert recorder.said[-1] == "Please wear a mask." and len(recorder.said) == 3

    show("out_of_service")  # no picture, then someone new: a new visit
    for _ in range(12):
        show("checking", "adjust_mask")
    assert recorder.said[-1] == "Please adjust your mask." and len(recorder.said) == 4


def test_voice_off_says_nothing_and_starts_no_thread():
    before = {t.name for t in threading.enumerate()}
    visitor = VisitorVoice.from_config(Config())
    visitor.on_decision(event("denied"))
    visitor.on_state("checking", "look_at_camera")
    visitor.stop()
    assert visitor.speaker is None and "voice" not in {t.name for t in threading.enumerate()} - before


@pytest.mark.parametrize("engine_installed", [False, True])
def test_validate_config_says_in_one_line_when_voice_cannot_speak(config_file, tmp_path, engine_installed):
    with config_file.open("a", encoding="utf-8") as file:
        file.write('[ui]\nvoice = true\nlanguage = "fr"\n')
    if engine_installed and shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed here")
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": os.environ["PATH"] if engine_installed else str(empty)}
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), "run", "--config", str(config_file),
                             "--validate-config"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0 and result.stdout == f"config OK: {config_file}\n"
    warnings = [line for line in result.stderr.splitlines() if "espeak-ng" in line]
    if engine_installed:
        assert warnings == []
    else:
        assert len(warnings) == 1 and warnings[0].endswith(
            "WARNING kiosk.config: [ui] voice = true, but espeak-ng is not installed (apt-get install espeak-ng):"
            " the kiosk runs without spoken prompts")


def test_the_kiosk_window_speaks_its_decisions_without_waiting(kiosk, caplog):
    """The real window on the demo with voice on: each decision goes to the speaker's thread; on a
    machine without audio output (CI) that is one INFO line, and the window goes on."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    played: list[str] = []
    hints = {message("voice.look_at_camera", "fr"), message("voice.adjust_mask", "fr")}
    with caplog.at_level(logging.INFO, logger="kiosk.ui.voice"):
        window = kiosk("demo", **{"ui.voice": True, "ui.language": "fr"})
        speaker = window.voice.speaker
        assert speaker is not None
        real_play = speaker._play
        speaker._play = lambda text: (played.append(text), real_play(text))
        assert pump(window.root, lambda: window.decisions_seen >= 2 and len(set(played) - hints) >= 2, 30.0), played
        frames = window.video.frames_shown
        assert pump(window.root, lambda: window.video.frames_shown > frames + 10, 5.0)
    decisions = [text for text in played if text not in hints]
    assert decisions[:2] == ["Veuillez porter un masque.", "Merci."]  # the demo: denied, then granted
    no_audio = [r for r in caplog.records if r.name == "kiosk.ui.voice"]
    assert len(no_audio) <= 1 and all(r.levelno == logging.INFO for r in no_audio)
