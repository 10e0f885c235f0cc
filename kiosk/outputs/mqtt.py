"""MQTT: decisions, health and status for the building's systems (Home Assistant, Node-RED, ...), through paho-mqtt 2.

Topics, under ``<topic_prefix>/<kiosk id>/``:

* ``decision``: each decision as JSON (``kiosk.outputs.outbox.decision_payload``: id, time, decision,
  label, score, faces, source, no image), QoS 1, from the durable outbox: none is lost to a broker
  outage or a crash. Replays of files and folders carry their ``source``; the demo is never published.
* ``health``: each health event (camera offline, door relay failed, ...), the same way.
* ``status`` (retained): ``{"state": "online", "camera": ..., "granted_today": ..., "denied_today": ...}``,
  kept current; the broker itself publishes ``{"state": "offline"}`` there (the MQTT last will)
  when the kiosk dies or loses its connection, and the kiosk does when it stops.
* ``snapshot``: with ``[mqtt] snapshots = true``, the picture (JPEG) of each decision whose image the
  kiosk keeps (denials; grants only with keep_granted_images; never with privacy). Best effort:
  a picture taken during an outage is not queued.
* ``command`` (subscribed): ``open`` (only with ``[door] allow_remote_open = true`` and a door
  output; recorded as a manual opening), ``snapshot`` (publish the latest decision's picture
  again), ``reload_config`` (the config file is checked; when it is valid and the kiosk was
  started by ``main.py run``, the kiosk stops cleanly and starts again on it; an invalid file is
  refused with its one-line error and the kiosk runs on). Plain text or ``{"command": "open", "id": "..."}``; each is answered on ``command/result``.

With ``[mqtt] homeassistant = true`` the kiosk also publishes retained discovery config under
``homeassistant/sensor/<kiosk id>_<name>/config``: one device with sensors for the last decision,
today's counts and the camera, available while the status says online.
"""

from __future__ import annotations

import collections
import json
import logging
import re
from pathlib import Path
from typing import Any, Callable, Optional

import paho.mqtt.client as mqtt

from kiosk.config import Config, ConfigError, MqttSection, load_config
from kiosk.events.store import EventStore, Outgoing, OutgoingRow
from kiosk.outputs.outbox import OutboxOutput
from kiosk.records import DEMO_SOURCE, DecisionEvent

log = logging.getLogger(__name__)

QOS = 1
STATUS_TOPIC, DECISION_TOPIC, HEALTH_TOPIC = "status", "decision", "health"
COMMAND_TOPIC, RESULT_TOPIC, SNAPSHOT_TOPIC = "command", "command/result", "snapshot"
DISCOVERY_PREFIX = "homeassistant"
JPEG_QUALITY = 85
STOP_PUBLISH_S = 1.0  # how long stopping waits for the broker to take the offline status

# Home Assistant sensors: (name, title, the status or decision topic, value template, extra config)
HA_SENSORS = (
    ("last_decision", "Last decision", DECISION_TOPIC, "{{ value_json.decision }}",
     {"icon": "mdi:door", "json_attributes_topic": DECISION_TOPIC}),
    ("granted_today", "Granted today", STATUS_TOPIC, "{{ value_json.granted_today }}",
     {"icon": "mdi:account-check", "state_class": "total_increasing"}),
    ("denied_today", "Denied today", STATUS_TOPIC, "{{ value_json.denied_today }}",
     {"icon": "mdi:account-cancel", "state_class": "total_increasing"}),
    ("camera", "Camera", STATUS_TOPIC, "{{ value_json.camera }}", {"icon": "mdi:cctv"}),
)

StatusProvider = Callable[[], dict]  # camera, granted_today, denied_today: cheap, any thread


class MqttOutput(OutboxOutput):
    """The kiosk's MQTT client: the outbox's decision and health messages, the status, commands."""

    channel = "mqtt"

    def __init__(self, store: EventStore, settings: MqttSection, kiosk_id: str, *, password: Optional[str] = None,
                 status: Optional[StatusProvider] = None, keeps_picture: Callable[[DecisionEvent], bool] = lambda e: False,
                 allow_remote_open: bool = False, config_path: Optional[str] = None) -> None:
        super().__init__(store, retry_initial_s=1.0, retry_max_s=settings.retry_max_s)
        self.settings = settings
        self.kiosk_id = kiosk_id
        self.base = f"{settings.topic_prefix}/{kiosk_id}"
        self.status = status or (lambda: {})
        self.keeps_picture = keeps_picture
        self.allow_remote_open = allow_remote_open
        self.config_path = config_path
        self.door: Any = None  # the door output (``open_manually``), set once it exists
        self.restart: Optional[Callable[[], None]] = None  # main.py run's clean restart, set once it exists
        self.connected = False
        self._mids: "collections.deque[int]" = collections.deque()  # PUBACKs heard (network thread)
        self._rows_by_mid: dict[int, int] = {}  # sender thread
        self._status_sent: Optional[dict] = None  # sender thread; None: publish it at the next look
        self._picture: Optional[Any] = None  # the latest decision's frame whose image the kiosk keeps
        self._picture_wanted = False
        self._outage_logged = False
        self.client_id = settings.client_id or f"mask-kiosk-{kiosk_id}"
        self.client = self._make_client(password)

    def topic(self, name: str) -> str:
        return f"{self.base}/{name}"

    # --- the client ---------------------------------------------------------------------------

    def _make_client(self, password: Optional[str]) -> mqtt.Client:
        settings = self.settings
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=True,
                             protocol=mqtt.MQTTv311)
        if settings.username:
            client.username_pw_set(settings.username, password)
        if settings.tls:
            client.tls_set()  # the system's CAs; the broker's name is checked
        client.will_set(self.topic(STATUS_TOPIC), self._offline(), qos=QOS, retain=True)
        client.reconnect_delay_set(1, max(1, int(settings.retry_max_s)))
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _offline(self) -> str:
        return json.dumps({"state": "offline", "kiosk_id": self.kiosk_id})

    def start(self) -> None:
        if self._thread is not None:
            return
        super().start()
        if not self.running:
            return  # another process sends this database's MQTT messages (and holds the client id)
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        self.client.loop_start()
        log.info("MQTT: connecting to %s:%d as %s, topics %s/#", self.settings.host, self.settings.port,
                 self.client_id, self.base)

    def stop(self, timeout: float = 2.0) -> None:
        """Deliver what can go within ``timeout``, say offline (retained), disconnect."""
        if self._thread is None or self._stop.is_set():
            return
        super().stop(timeout)
        if self.connected:
            try:
                self.client.publish(self.topic(STATUS_TOPIC), self._offline(), qos=QOS, retain=True) \
                    .wait_for_publish(STOP_PUBLISH_S)
            except (RuntimeError, ValueError) as exc:
                log.debug("MQTT: offline status not sent: %s", exc)
        self.client.disconnect()
        self.client.loop_stop()

    # --- network thread callbacks ---------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._outage(f"the broker refused the connection: {reason}")
            return
        self.connected = True
        self._outage_logged = False
        log.info("MQTT: connected to %s:%d", self.settings.host, self.settings.port)
        client.subscribe(self.topic(COMMAND_TOPIC), qos=QOS)
        if self.settings.homeassistant:
            for topic, config in self.discovery():
                client.publish(topic, json.dumps(config), qos=QOS, retain=True)
        self._status_sent = None
        self.wake()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._outage("cannot reach the broker")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.connected = False
        if not self._stop.is_set():
            self._outage(f"connection lost ({reason})")

    def _outage(self, why: str) -> None:
        """Said once per outage; paho reconnects by itself (1 s, doubling up to retry_max_s)."""
        if self._outage_logged:
            log.debug("MQTT: %s", why)
            return
        self._outage_logged = True
        log.warning("MQTT: %s:%d: %s; retrying, messages stay queued", self.settings.host, self.settings.port, why)
        self.last_error = why

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        # runs under paho's message lock: no lock of ours here, the sender thread reads the deque
        self._mids.append(mid)
        self.wake()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self._command(message.payload)
        except Exception:  # a command must never end the network thread
            log.exception("MQTT: command failed")

    # --- the outbox -----------------------------------------------------------------------

    def messages(self, payload: dict) -> list[Outgoing]:
        topic = self.topic(DECISION_TOPIC if payload["kind"] == "decision" else HEALTH_TOPIC)
        return [Outgoing(self.channel, topic, json.dumps(payload, ensure_ascii=False, sort_keys=True))]

    def _ready(self) -> bool:
        return self.connected

    def _send(self, row: OutgoingRow) -> bool:
        info = self.client.publish(row.target, row.payload, qos=QOS)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):  # NO_CONN: paho sends it on reconnecting
            raise ConnectionError(mqtt.error_string(info.rc))
        self._rows_by_mid[info.mid] = row.id
        return False  # delivered once its PUBACK comes (``_on_publish``)

    def _mark_acknowledged(self) -> None:
        while self._mids:
            row_id = self._rows_by_mid.pop(self._mids.popleft(), None)
            if row_id is not None:  # else a status, discovery or snapshot message
                self._acknowledged(row_id)
        super()._mark_acknowledged()

    def on_decision(self, event: DecisionEvent) -> None:
        """After the event is stored: its message is queued; today's counts changed; keep its picture."""
        if event.source != DEMO_SOURCE and event.frame is not None and self.keeps_picture(event):
            self._picture = event.frame
            self._picture_wanted = self.settings.snapshots
        self._status_sent = None
        self.wake()

    # --- status, snapshots (sender thread) -------------------------------------------------

    def _idle_work(self) -> None:
        if not self.connected:
            return
        status = {"state": "online", "kiosk_id": self.kiosk_id, **self.status()}
        if status != self._status_sent:
            self.client.publish(self.topic(STATUS_TOPIC), json.dumps(status, sort_keys=True), qos=QOS, retain=True)
            self._status_sent = status
        if self._picture_wanted:
            self._picture_wanted = False
            self._publish_picture()

    def _publish_picture(self) -> bool:
        import cv2  # only when snapshots are asked for

        frame = self._picture
        if frame is None:
            return False
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if ok:
            self.client.publish(self.topic(SNAPSHOT_TOPIC), jpeg.tobytes(), qos=QOS)
        return bool(ok)

    # --- commands (network thread) ---------------------------------------------------------

    def _command(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").strip()
        request_id = None
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict):
            name, request_id = str(body.get("command", "")), body.get("id")
        else:
            name = text
        name = name.strip().lower()
        ok, detail = self._run_command(name)
        log.log(logging.INFO if ok else logging.WARNING, "MQTT command %r: %s", name[:40], detail)
        result = {"command": name[:40], "ok": ok, "detail": detail, "kiosk_id": self.kiosk_id}
        if request_id is not None:
            result["id"] = request_id
        self.client.publish(self.topic(RESULT_TOPIC), json.dumps(result), qos=QOS)

    def _run_command(self, name: str) -> tuple[bool, str]:
        if name == "open":
            if not self.allow_remote_open:
                return False, "refused: [door] allow_remote_open is false"
            if self.door is None:
                return False, 'refused: no door output ([door] output = "none")'
            if not self.door.open_manually("mqtt command"):
                return False, "the door output is stopped or busy"
            return True, "door opening"
        if name == "snapshot":
            if self._picture is None:
                return False, "no picture to send (none kept yet, or privacy)"
            self._picture_wanted = True
            self.wake()
            return True, f"picture of the latest decision sent to {self.topic(SNAPSHOT_TOPIC)}"
        if name == "reload_config":
            problem = self._config_problem()
            if problem:
                return False, f"refused, the kiosk runs on: {problem}"
            if self.restart is None:
                return False, "refused: this kiosk cannot restart itself (not started by main.py run)"
            self.restart()
            return True, f"{self.config_path or 'the built-in defaults'} is valid: the kiosk restarts on it"
        return False, "unknown command; known: open, snapshot, reload_config"

    def _config_problem(self) -> str:
        """The config file's one-line error, or "" when it is valid (or there is none)."""
        if not self.config_path:
            return ""
        try:
            load_config(Path(self.config_path))
        except ConfigError as exc:
            return f"the file has an error: {exc}"
        return ""

    # --- Home Assistant ---------------------------------------------------------------------

    def discovery(self) -> list[tuple[str, dict]]:
        """(topic, config) of each Home Assistant sensor, published retained on each connection."""
        node = re.sub(r"[^A-Za-z0-9_-]", "_", self.kiosk_id)
        device = {"identifiers": [f"mask-kiosk-{self.kiosk_id}"], "name": f"Mask kiosk {self.kiosk_id}",
                  "manufacturer": "mask-kiosk", "model": "Face-mask entrance kiosk"}
        configs = []
        for name, title, topic, template, extra in HA_SENSORS:
            config = {"name": title, "unique_id": f"{node}_{name}", "object_id": f"{node}_{name}",
                      "state_topic": self.topic(topic), "value_template": template,
                      "availability_topic": self.topic(STATUS_TOPIC),
                      "availability_template": "{{ value_json.state }}",
                      "payload_available": "online", "payload_not_available": "offline", "device": device,
                      **{k: self.topic(v) if k.endswith("_topic") else v for k, v in extra.items()}}
            configs.append((f"{DISCOVERY_PREFIX}/sensor/{node}_{name}/config", config))
        return configs


def build_mqtt_output(cfg: Config, store: EventStore, status: StatusProvider,
                      keeps_picture: Callable[[DecisionEvent], bool]) -> Optional[MqttOutput]:
    """The MQTT output ``[mqtt]`` asks for (not started), or None when it is off."""
    if not cfg.mqtt.enabled:
        return None
    password = None
    if cfg.mqtt.username:
        from kiosk.credentials import mqtt_password

        password, why = mqtt_password(cfg.mqtt.username)
        if password is None:
            log.info("MQTT: logging in as %s without a password (%s)", cfg.mqtt.username, why)
    return MqttOutput(store, cfg.mqtt, cfg.kiosk.id, password=password, status=status, keeps_picture=keeps_picture,
                      allow_remote_open=cfg.door.allow_remote_open, config_path=cfg.source_path)
