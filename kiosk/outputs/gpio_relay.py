"""A relay module on a Raspberry Pi pin, driven through gpiozero's ``OutputDevice``.

The pin is driven low (the relay released) when the device is made, so the door is locked from
the start; ``[door] gpio_active_high = false`` is for the many modules that energise on a low pin.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Optional

from kiosk.outputs.door import DoorOutput

log = logging.getLogger(__name__)


class GpioRelay(DoorOutput):
    """``on()`` unlocks, ``off()`` locks. ``pin_factory`` is gpiozero's (e.g. ``MockFactory`` in tests);
    None lets gpiozero choose the board's own."""

    def __init__(self, pin: int, open_s: float, *, active_high: bool = True, pin_factory: Any = None,
                 **door: Any) -> None:
        super().__init__(open_s, target=f"GPIO relay on pin {pin}", **door)
        self.pin = pin
        self.active_high = active_high
        self.pin_factory = pin_factory
        self._device: Optional[Any] = None

    def _connect(self) -> None:
        from gpiozero import OutputDevice  # imported here: it looks for a pin library when first used

        with warnings.catch_warnings(record=True) as said:  # "falling back from lgpio ...": ours is one line
            warnings.simplefilter("always")
            try:
                self._device = OutputDevice(self.pin, active_high=self.active_high, initial_value=False,
                                            pin_factory=self.pin_factory)
            finally:
                for warning in said:
                    log.debug("gpiozero: %s", warning.message)

    def _unlock(self, reason: str) -> None:
        self._require().on()

    def _lock(self) -> None:
        self._require().off()

    def _require(self) -> Any:
        if self._device is None:
            raise RuntimeError("pin not set up")
        return self._device

    def _disconnect(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            device.close()
