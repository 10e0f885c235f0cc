"""What every output must do: hear each decision without ever delaying the door, start and stop cleanly."""

from __future__ import annotations

from abc import ABC, abstractmethod

from kiosk.records import DecisionEvent


class Output(ABC):
    """A decision sink (``kiosk.records.DecisionSink``) that tells something outside the kiosk.

    ``on_decision`` runs on the analysis thread (``kiosk.door.runtime``) and must return at once:
    a port, a pin or the network is worked by the output's own thread. ``start`` comes before the
    first decision and ``stop`` after the last; both may be called twice.
    """

    def start(self) -> None:
        """Begin: open what the output needs, or start its worker."""

    @abstractmethod
    def on_decision(self, event: DecisionEvent) -> None:
        """Hear one decision episode; never blocks, never raises."""

    def stop(self, timeout: float = 2.0) -> None:
        """Finish within ``timeout`` seconds and release what ``start`` opened."""
