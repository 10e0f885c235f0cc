"""[mqtt] and [webhook]: every key validated with a one-line error; secrets only from the environment or keyring."""

from __future__ import annotations

import pytest

from kiosk.config import ConfigError, MqttSection, WebhookSection, build_config
from kiosk.credentials import CredentialsError, mqtt_password, webhook_secret


def error_of(settings: dict) -> str:
    with pytest.raises(ConfigError) as info:
        build_config(settings)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_defaults_publish_and_post_nothing():
    cfg = build_config({})
    assert cfg.mqtt == MqttSection() and not cfg.mqtt.enabled and cfg.webhook.urls == []
    assert (cfg.mqtt.port, cfg.mqtt.topic_prefix, cfg.mqtt.homeassistant, cfg.mqtt.snapshots) == (
        1883, "mask-kiosk", False, False)


@pytest.mark.parametrize("settings, message", [
    ({"mqtt": {"enabled": "yes"}}, '[mqtt] enabled = "yes": must be true or false'),
    ({"mqtt": {"host": ""}}, '[mqtt] host = "": must not be empty'),
    ({"mqtt": {"port": 70000}}, "[mqtt] port = 70000: must be an integer from 1 to 65535"),
    ({"mqtt": {"topic_prefix": "site/+/kiosks"}}, '[mqtt] topic_prefix = "site/+/kiosks": must be an MQTT topic like'
     ' "mask-kiosk" or "site/kiosks": no "+", "#", empty level or leading/trailing "/"'),
    ({"mqtt": {"topic_prefix": "site//kiosks"}}, '[mqtt] topic_prefix = "site//kiosks": must be an MQTT topic like'
     ' "mask-kiosk" or "site/kiosks": no "+", "#", empty level or leading/trailing "/"'),
    ({"mqtt": {"topic_prefix": "kiosks/"}}, '[mqtt] topic_prefix = "kiosks/": must be an MQTT topic like'
     ' "mask-kiosk" or "site/kiosks": no "+", "#", empty level or leading/trailing "/"'),
    ({"mqtt": {"username": 7}}, "[mqtt] username = 7: must be a string"),
    ({"mqtt": {"tls": 1}}, "[mqtt] tls = 1: must be true or false"),
    ({"mqtt": {"client_id": "front door"}},
     '[mqtt] client_id = "front door": must be up to 64 letters, digits, ".", "_" or "-" ("" = mask-kiosk-<kiosk id>)'),
    ({"mqtt": {"homeassistant": "true"}}, '[mqtt] homeassistant = "true": must be true or false'),
    ({"mqtt": {"snapshots": 0}}, "[mqtt] snapshots = 0: must be true or false"),
    ({"mqtt": {"keepalive_s": 1}}, "[mqtt] keepalive_s = 1: must be an integer from 5 to 3600"),
    ({"mqtt": {"retry_max_s": 0}}, "[mqtt] retry_max_s = 0: must be a number from 1 to 3600"),
    ({"mqtt": {"password": "hunter2"}}, "[mqtt] password: secrets are never kept in the config file;"
     " set KIOSK_MQTT_PASSWORD or use the keyring (python -m keyring set mask-kiosk-mqtt <username>)"),
    ({"mqtt": {"qos": 2}}, "[mqtt] unknown key 'qos'; known keys: " + ", ".join(MqttSection.__dataclass_fields__)),
    ({"webhook": {"urls": "https://example.org/h"}}, '[webhook] urls = "https://example.org/h": must be a list of'
     ' http:// or https:// URLs, e.g. ["https://example.org/kiosk-hook"]'),
    ({"webhook": {"urls": ["example.org/h"]}}, "[webhook] urls = ['example.org/h']: must be a list of"
     ' http:// or https:// URLs, e.g. ["https://example.org/kiosk-hook"]'),
    ({"webhook": {"urls": ["http://a/h", "http://a/h"]}},
     "[webhook] urls = ['http://a/h', 'http://a/h']: must not name the same URL twice"),
    ({"webhook": {"urls": ["https://hook:s3cret@example.org/h"]}}, '[webhook] urls: "https://hook:***@example.org/h":'
     " must not hold a password; receivers check the X-Kiosk-Signature made with KIOSK_WEBHOOK_SECRET"),
    ({"webhook": {"timeout_s": 0}}, "[webhook] timeout_s = 0: must be a number from 0.5 to 120"),
    ({"webhook": {"retry_initial_s": 10, "retry_max_s": 1}},
     "[webhook] retry_max_s = 1: must not be less than retry_initial_s (10)"),
    ({"webhook": {"secret": "s3cret"}}, "[webhook] secret: secrets are never kept in the config file;"
     " set KIOSK_WEBHOOK_SECRET or use the keyring (python -m keyring set mask-kiosk-webhook secret)"),
    ({"webhook": {"url": "x"}}, "[webhook] unknown key 'url'; known keys: "
     + ", ".join(WebhookSection.__dataclass_fields__)),
], ids=lambda v: f"{next(iter(v))}.{next(iter(next(iter(v.values()))))}" if isinstance(v, dict) else None)
def test_bad_values_are_one_line_naming_key_and_value(settings, message):
    assert error_of(settings) == message


def test_secrets_come_from_the_environment_and_are_never_shown(monkeypatch):
    monkeypatch.setenv("KIOSK_MQTT_PASSWORD", "broker-pw")
    monkeypatch.setenv("KIOSK_WEBHOOK_SECRET", "hook-key")
    assert mqtt_password("kiosk") == ("broker-pw", "") and webhook_secret() == "hook-key"
    monkeypatch.delenv("KIOSK_MQTT_PASSWORD")
    monkeypatch.delenv("KIOSK_WEBHOOK_SECRET")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    password, why = mqtt_password("kiosk")
    assert password is None and "KIOSK_MQTT_PASSWORD" in why  # a broker may take a username alone
    with pytest.raises(CredentialsError, match="no secret to sign the posts with: set KIOSK_WEBHOOK_SECRET"):
        webhook_secret()
