"""Decision engine: episodes, majority voting, hold, leaving, policies - with time passed in, no sleeps."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from kiosk.config import DecisionSection
from kiosk.door.decision import (HINT_ADJUST, HINT_LOOK, SOFT_POLICY_NOTE, DecisionEngine, DecisionState, deciding_face,
                                 media_clock)
from kiosk.records import FaceResult

FPS = 25.0
BOX = (100, 80, 200, 200)


def face(label: str, score: float = 0.95, box=BOX) -> FaceResult:
    return FaceResult(box=box, label=label, score=score, mask_probability=score if label == "with_mask" else 1 - score)


class Clock:
    """Feeds an engine frame by frame at a fixed rate and collects what it emits."""

    def __init__(self, engine: DecisionEngine) -> None:
        self.engine = engine
        self.t = 0.0
        self.events = []
        self.states = []

    def run(self, seconds: float, results, present: bool = False) -> DecisionState:
        """``results`` every frame for ``seconds``; ``present``: someone in view (kiosk.door.presence)."""
        for _ in range(round(seconds * FPS)):
            step = self.engine.update(list(results), self.t, present=present)
            self.states.append(step.state)
            if step.event is not None:
                self.events.append(step.event)
            self.t += 1 / FPS
        return self.engine.state


ORIGIN = datetime(2026, 1, 1, 8, 0, tzinfo=timezone.utc)


def engine(**changes) -> DecisionEngine:
    """An engine whose event times are ORIGIN + the injected time, so times can be asserted."""
    return DecisionEngine(dataclasses.replace(DecisionSection(), **changes), kiosk_id="test-door",
                          event_time=media_clock(ORIGIN))


def test_nobody_means_waiting_and_no_event():
    clock = Clock(engine())
    assert clock.run(5, []) == DecisionState.WAITING
    assert clock.events == []


def test_a_face_is_checked_before_it_is_decided():
    eng = engine(window_frames=5, min_votes=3)
    assert eng.update([face("without_mask")], 0.0).state == DecisionState.CHECKING
    assert eng.update([face("without_mask")], 0.04).state == DecisionState.CHECKING
    step = eng.update([face("without_mask")], 0.08)
    assert step.state == DecisionState.DENIED
    assert step.event is not None and step.event.decision == "denied"
    assert step.event.kiosk_id == "test-door" and step.event.label == "without_mask" and step.event.faces == 1
    assert step.event.time == ORIGIN + timedelta(seconds=0.08)


def test_every_event_says_which_kind_of_source_it_came_from():
    """The door and the outputs tell a demo or a replay from a real visitor by this field."""
    for kind in ("camera", "demo", "file"):
        eng = DecisionEngine(DecisionSection(), kiosk_id="test-door", event_time=media_clock(ORIGIN), source_kind=kind)
        clock = Clock(eng)
        clock.run(3, [face("with_mask")])
        assert [(e.decision, e.source) for e in clock.events] == [("granted", kind)]


def test_standing_denied_for_a_minute_gives_exactly_one_event():
    clock = Clock(engine())
    assert clock.run(60, [face("without_mask")]) == DecisionState.DENIED
    assert [e.decision for e in clock.events] == ["denied"]


def test_low_confidence_frames_do_not_vote():
    clock = Clock(engine(min_score=0.6, decide_within_s=60))
    assert clock.run(5, [face("without_mask", score=0.55)]) == DecisionState.CHECKING
    assert clock.events == []
    assert clock.run(1, [face("without_mask", score=0.65)]) == DecisionState.DENIED
    assert len(clock.events) == 1


def test_a_face_split_between_the_no_mask_classes_is_denied_not_uncertain():
    """Neither without_mask nor with_incorrect_mask reaches min_score alone, but P(with_mask) is
    nearly 0: the face is confidently not masked right."""
    split = FaceResult(box=BOX, label="without_mask", score=0.5, mask_probability=0.02)
    clock = Clock(engine(min_score=0.6, decide_within_s=2.0))
    assert clock.run(1, [split]) == DecisionState.DENIED
    assert [e.decision for e in clock.events] == ["denied"]
    # where a badly worn mask counts as a mask, the split is a real doubt between deny and grant
    clock = Clock(engine(min_score=0.6, decide_within_s=2.0, incorrect_mask_is="mask"))
    assert clock.run(3, [split]) == DecisionState.UNCERTAIN


def test_majority_needs_min_votes_within_the_window():
    eng = engine(window_frames=5, min_votes=3)
    labels = ["with_mask", "without_mask", "with_mask", "without_mask"]  # 2 vs 2: no majority yet
    for i, label in enumerate(labels):
        assert eng.update([face(label)], i * 0.04).event is None
    step = eng.update([face("with_mask")], 0.2)  # third mask vote out of five
    assert step.state == DecisionState.GRANTED and step.event.decision == "granted"


def test_a_single_odd_frame_does_not_flip_the_decision():
    clock = Clock(engine(hold_s=0.0))
    clock.run(2, [face("with_mask")])
    clock.run(1 / FPS, [face("without_mask")])
    assert clock.run(2, [face("with_mask")]) == DecisionState.GRANTED
    assert [e.decision for e in clock.events] == ["granted"]


def test_putting_on_a_mask_gives_a_new_granted_event_after_the_hold():
    clock = Clock(engine(hold_s=3.0))
    clock.run(1, [face("without_mask")])
    assert [e.decision for e in clock.events] == ["denied"]
    # mask on at t=1 s: the denial is held until 3 s after it was decided (~0.08 s)
    clock.run(1.5, [face("with_mask")])
    assert clock.engine.state == DecisionState.DENIED and len(clock.events) == 1
    assert clock.run(2, [face("with_mask")]) == DecisionState.GRANTED
    assert [e.decision for e in clock.events] == ["denied", "granted"]
    assert (clock.events[1].time - clock.events[0].time).total_seconds() >= 3.0
    held = [s for s in clock.states[: round(3.0 * FPS)] if s == DecisionState.DENIED]
    assert len(held) >= round(2.9 * FPS)  # shown for the whole hold


def test_person_leaving_returns_to_waiting_after_hold_and_next_person_is_a_new_episode():
    clock = Clock(engine(hold_s=1.0, leave_after_s=1.0))
    clock.run(3, [face("without_mask")])
    clock.run(0.5, [])
    assert clock.engine.state == DecisionState.DENIED  # a short gap (looking away) is the same person
    clock.run(1.0, [])
    assert clock.engine.state == DecisionState.WAITING
    clock.run(2, [face("without_mask")])  # someone else, also without a mask: a new episode
    assert [e.decision for e in clock.events] == ["denied", "denied"]


def test_short_gap_keeps_the_episode():
    clock = Clock(engine(leave_after_s=1.0))
    clock.run(3, [face("without_mask")])
    clock.run(0.6, [])
    clock.run(3, [face("without_mask")])
    assert len(clock.events) == 1


def test_soft_policy_allows_without_mask_and_logs_it():
    clock = Clock(engine(no_mask_policy="soft"))
    assert clock.run(2, [face("without_mask")]) == DecisionState.GRANTED
    (event,) = clock.events
    assert event.decision == "granted" and event.label == "without_mask" and event.policy_note == SOFT_POLICY_NOTE


def test_hard_policy_event_has_no_policy_note():
    clock = Clock(engine(no_mask_policy="hard"))
    clock.run(2, [face("without_mask")])
    assert clock.events[0].policy_note == ""


@pytest.mark.parametrize("incorrect_is, expected", [("no_mask", "denied"), ("mask", "granted")])
def test_incorrectly_worn_mask_counts_as_configured(incorrect_is, expected):
    clock = Clock(engine(incorrect_mask_is=incorrect_is))
    clock.run(2, [face("with_incorrect_mask")])
    assert [e.decision for e in clock.events] == [expected]
    assert clock.events[0].label == "with_incorrect_mask"


def test_several_faces_decide_on_the_largest_and_count_all():
    near = face("with_mask", box=(50, 50, 220, 220))
    far = face("without_mask", box=(400, 60, 60, 60))
    assert deciding_face([far, near]) is near
    clock = Clock(engine())
    clock.run(1, [far, near])
    (event,) = clock.events
    assert event.decision == "granted" and event.faces == 2 and event.box == (50, 50, 220, 220)


def test_event_carries_the_deciding_frame():
    import numpy as np

    frame = np.zeros((48, 64, 3), np.uint8)
    eng = engine(window_frames=1, min_votes=1)
    step = eng.update([face("with_mask")], 0.0, frame=frame)
    assert step.event.frame is frame
    assert set(step.event.to_json()) == {"time", "decision", "label", "score", "faces"}


def test_a_change_held_back_by_the_hold_is_decided_when_the_hold_ends_even_between_frames():
    """The runtime ticks the engine without a frame while waiting; such a tick can carry the decision."""
    clock = Clock(engine(hold_s=3.0, leave_after_s=1.0))
    clock.run(1, [face("without_mask")])
    clock.run(1.5, [face("with_mask")])  # mask on during the hold: not decided yet
    assert [e.decision for e in clock.events] == ["denied"]
    step = clock.engine.update([], 3.2)  # no new frame, the hold is over, the person is still there
    assert step.state == DecisionState.GRANTED and step.event is not None and step.event.label == "with_mask"


def test_no_confident_majority_in_time_is_denied_as_uncertain_exactly_once():
    clock = Clock(engine(decide_within_s=2.0, min_score=0.6))
    assert clock.run(1.9, [face("without_mask", score=0.5)]) == DecisionState.CHECKING
    assert clock.events == []
    assert clock.run(8, [face("without_mask", score=0.5)]) == DecisionState.UNCERTAIN
    assert [e.decision for e in clock.events] == ["uncertain"]
    assert clock.events[0].time == ORIGIN + timedelta(seconds=2.0)  # at decide_within_s, not later
    assert clock.events[0].label == "without_mask"


def test_votes_that_disagree_are_uncertain_then_a_clear_mask_still_decides():
    eng = engine(window_frames=4, min_votes=3, decide_within_s=2.0)
    clock = Clock(eng)
    flipping = [[face("with_mask")], [face("without_mask")]]
    for i in range(round(2.5 * FPS)):  # a hand over the face: the votes split 2 / 2
        step = eng.update(flipping[i % 2], clock.t)
        if step.event is not None:
            clock.events.append(step.event)
        clock.t += 1 / FPS
    assert [e.decision for e in clock.events] == ["uncertain"]
    assert clock.run(4, [face("with_mask")]) == DecisionState.GRANTED  # the mask is now clear
    assert [e.decision for e in clock.events] == ["uncertain", "granted"]


def test_a_mask_vote_needs_only_the_mask_threshold_the_classifier_applied():
    # a site calibrated to a threshold below min_score: its with_mask labels still vote
    clock = Clock(engine(min_score=0.6))
    assert clock.run(1, [face("with_mask", score=0.55)]) == DecisionState.GRANTED


def test_checking_hints_what_would_help():
    eng = engine(decide_within_s=60, min_score=0.9)
    assert eng.update([face("without_mask", score=0.5)], 0.0).hint == HINT_LOOK
    assert eng.update([face("with_incorrect_mask", score=0.5)], 0.04).hint == HINT_ADJUST
    assert eng.update([], 0.08).hint == HINT_ADJUST  # still there, still checking
    eng = engine()
    eng.update([face("without_mask")], 0.0)
    eng.update([face("without_mask")], 0.04)
    assert eng.update([face("without_mask")], 0.08).hint == ""  # decided: no hint


def test_a_lost_source_ends_the_decision_at_once_and_the_return_is_a_new_episode():
    eng = engine(hold_s=10.0)
    clock = Clock(eng)
    assert clock.run(1, [face("with_mask")]) == DecisionState.GRANTED
    assert eng.source_lost().state == DecisionState.WAITING  # not GRANTED for the rest of hold_s
    assert eng.update([], clock.t).state == DecisionState.WAITING  # nor after, between frames
    clock.t += 0.5
    assert clock.run(0.2, []) == DecisionState.WAITING  # the camera back on an empty door: no old decision
    assert clock.run(1, [face("with_mask")]) == DecisionState.GRANTED
    assert [e.decision for e in clock.events] == ["granted", "granted"]  # whoever is there then is decided anew
