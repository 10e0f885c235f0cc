"""USB relay boards on a serial port (pyserial): the command frames of LCUS-type boards by default.

An LCUS-1 board closes relay 1 on ``A0 01 01 A2`` and opens it on ``A0 01 00 A1`` (start byte,
relay number, state, checksum); other boards take other frames, set in ``[door] on_frame`` and
``off_frame``. Such boards latch, so the door thread locks the relay whenever it connects.
"""

from __future__ import annotations

from typing import Any, Optional

import serial

from kiosk.outputs.door import DoorOutput

WRITE_TIMEOUT_S = 1.0  # a board that takes no bytes for this long has failed


class SerialRelay(DoorOutput):
    """Writes ``on_frame`` to unlock and ``off_frame`` to lock, flushed at once."""

    def __init__(self, port: str, baudrate: int, on_frame: bytes, off_frame: bytes, open_s: float,
                 **door: Any) -> None:
        super().__init__(open_s, target=f"serial relay on {port}", **door)
        self.port = port
        self.baudrate = baudrate
        self.on_frame = bytes(on_frame)
        self.off_frame = bytes(off_frame)
        self._serial: Optional[serial.Serial] = None

    def _connect(self) -> None:
        self._serial = serial.Serial(self.port, self.baudrate, timeout=WRITE_TIMEOUT_S, write_timeout=WRITE_TIMEOUT_S)

    def _unlock(self, reason: str) -> None:
        self._write(self.on_frame)

    def _lock(self) -> None:
        self._write(self.off_frame)

    def _write(self, frame: bytes) -> None:
        if self._serial is None:
            raise serial.SerialException("port not open")
        written = self._serial.write(frame)
        self._serial.flush()
        if written != len(frame):
            raise serial.SerialException(f"only {written} of {len(frame)} bytes written")

    def _disconnect(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            port.close()
