"""Where passwords come from: an environment variable or the system keyring, nothing else.

The SMTP password: ``KIOSK_SMTP_PASSWORD``, else keyring service ``mask-kiosk``. The fleet store's
(PostgreSQL) password: ``KIOSK_FLEET_PASSWORD``, else keyring service ``mask-kiosk-fleet``. The
MQTT broker's: ``KIOSK_MQTT_PASSWORD``, else ``mask-kiosk-mqtt``. The key that signs webhook
posts: ``KIOSK_WEBHOOK_SECRET``, else keyring service ``mask-kiosk-webhook``, user ``secret``.
Never from the config file, never from a prompt (a kiosk has nobody at the keyboard; yagmail
would otherwise ask with getpass), and the value is never logged or put in an error message.
Store one with:  ``python -m keyring set mask-kiosk <username>``  (or ``mask-kiosk-fleet <db user>``).
"""

from __future__ import annotations

import os
from typing import Optional

from kiosk.errors import KioskError

ENV_VAR = "KIOSK_SMTP_PASSWORD"
KEYRING_SERVICE = "mask-kiosk"
FLEET_ENV_VAR = "KIOSK_FLEET_PASSWORD"
FLEET_KEYRING_SERVICE = "mask-kiosk-fleet"
MQTT_ENV_VAR = "KIOSK_MQTT_PASSWORD"
MQTT_KEYRING_SERVICE = "mask-kiosk-mqtt"
WEBHOOK_ENV_VAR = "KIOSK_WEBHOOK_SECRET"
WEBHOOK_KEYRING_SERVICE = "mask-kiosk-webhook"
WEBHOOK_KEYRING_USER = "secret"


class CredentialsError(KioskError):
    """No password is available for the configured login."""


def _password(env_var: str, service: str, username: str) -> str:
    """The password for ``username``: ``env_var`` first, then the keyring's ``service``."""
    from_env = os.environ.get(env_var)
    if from_env:
        return from_env
    hint = f"no password: set {env_var} or store one with keyring (python -m keyring set {service} {username})"
    try:
        import keyring
        from keyring.errors import KeyringError, NoKeyringError

        stored = keyring.get_password(service, username)
    except ImportError:
        raise CredentialsError(hint) from None
    except NoKeyringError:
        raise CredentialsError(f"{hint}; no keyring backend is available on this system") from None
    except KeyringError as exc:
        raise CredentialsError(f"{hint}; keyring failed: {type(exc).__name__}") from None
    if not stored:
        raise CredentialsError(hint)
    return stored


def smtp_password(username: str) -> str:
    """The SMTP password for ``username``; ``CredentialsError`` when there is none."""
    return _password(ENV_VAR, KEYRING_SERVICE, username)


def _optional_password(env_var: str, service: str, username: str) -> tuple[Optional[str], str]:
    """The password, or None and why there is none: for servers that may not ask for one."""
    try:
        return _password(env_var, service, username), ""
    except CredentialsError as missing:
        return None, str(missing)


def fleet_password(username: str) -> tuple[Optional[str], str]:
    """The fleet database password for ``username`` and, when there is none, why not.

    None is not an error here: a PostgreSQL server may not ask for one (trust, peer or
    certificate login); the reason is for the message when the server does ask.
    """
    return _optional_password(FLEET_ENV_VAR, FLEET_KEYRING_SERVICE, username)


def mqtt_password(username: str) -> tuple[Optional[str], str]:
    """The MQTT broker password for ``username`` and, when there is none, why not (a broker may
    take a username alone, or a client certificate)."""
    return _optional_password(MQTT_ENV_VAR, MQTT_KEYRING_SERVICE, username)


def webhook_secret() -> str:
    """The key webhook posts are signed with; ``CredentialsError`` when there is none."""
    try:
        return _password(WEBHOOK_ENV_VAR, WEBHOOK_KEYRING_SERVICE, WEBHOOK_KEYRING_USER)
    except CredentialsError as missing:
        raise CredentialsError(f"[webhook] urls are set but there is no secret to sign the posts with: "
                               f"{str(missing).replace('no password: ', '')}") from None
