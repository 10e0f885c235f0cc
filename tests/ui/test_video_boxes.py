"""Every face that was analysed is boxed in the picture shown, in its label's colour; a grant's
frame shows its green box. Real window under Xvfb, the trained model and runtime, a generated
video as the camera; the pixels are read back from the Tk photo image on screen."""

from __future__ import annotations

import time

import numpy as np
import pytest
from tests.helpers.ui import kiosk, pump  # noqa: F401  (kiosk is a fixture)

from kiosk.records import DecisionEvent
from kiosk.vision.model_spec import WITH_MASK
from tools.measure_window import write_door_video

MIN_BOX_PIXELS = 300  # a box's outline at display size is well over a thousand pixels


def green_pixels(window) -> int:
    """Pixels of the annotate GREEN (BGR 0,200,0) in the picture Tk shows now; the portrait has none."""
    image = window.video.displayed_image()
    assert image is not None, "nothing on screen"
    rgb = np.asarray(image.convert("RGB")).astype(int)
    return int(((rgb[..., 1] > 160) & (rgb[..., 0] < 70) & (rgb[..., 2] < 70)).sum())


@pytest.mark.parametrize("analysis_s", [0.0, 0.6], ids=["fast", "slow-machine"])
def test_grant_frames_show_the_green_box_of_the_masked_face(kiosk, tmp_path, monkeypatch, analysis_s):
    """On a slow machine (one analysis longer than the preview's freshness limit) the boxes used
    to vanish from most frames; the frame shown with the grant must carry its own green box."""
    video = write_door_video(tmp_path / "masked.mp4", [("empty", 0.8), ("masked", 4.0)])
    window = kiosk(str(video), **{"decision.window_frames": 1, "decision.min_votes": 1})
    if analysis_s:
        analyzer = window.runtime.analyzer
        analyze = analyzer.analyze

        def slow(image):
            time.sleep(analysis_s)
            return analyze(image)

        monkeypatch.setattr(analyzer, "analyze", slow)

    decisions: list[DecisionEvent] = []
    handle = window.handle_decision
    monkeypatch.setattr(window, "handle_decision", lambda event: (decisions.append(event), handle(event)))
    at_grant: list[int] = []  # green pixels of the picture shown when the grant was handled
    boxed: list[tuple[bool, int]] = []  # (mask analysed on the picture shown, its green pixels)

    def shown(update) -> None:
        if decisions and not at_grant:
            at_grant.append(green_pixels(window))
        if update.captured_at:
            masked = any(r.label == WITH_MASK for r in window.video.results)
            boxed.append((masked, green_pixels(window)))

    window.on_frame_shown = shown
    assert pump(window.root, lambda: bool(at_grant), 15.0), f"no grant: banner {window.banner.text}"
    assert decisions[0].decision == "granted"
    assert at_grant[0] >= MIN_BOX_PIXELS, f"the grant's frame shows no green box ({at_grant[0]} green pixels)"
    pump(window.root, lambda: False, 1.5)  # the masked visitor stays: every frame keeps the box
    while_masked = [green for masked, green in boxed if masked]
    assert while_masked and min(while_masked) >= MIN_BOX_PIXELS, while_masked
    assert window.banner.state == "granted"
    after_grant = boxed[-20:]
    assert all(masked for masked, _ in after_grant), "frames of the masked visitor shown without her box"
