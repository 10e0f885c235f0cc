"""Where the SMTP password comes from: ``KIOSK_SMTP_PASSWORD`` or the system keyring, nothing else.

Never from the config file, never from a prompt (a kiosk has nobody at the keyboard; yagmail
would otherwise ask with getpass), and the value is never logged or put in an error message.
Store one with:  ``python -m keyring set mask-kiosk <username>``.
"""

from __future__ import annotations

import os

from kiosk.errors import KioskError

ENV_VAR = "KIOSK_SMTP_PASSWORD"
KEYRING_SERVICE = "mask-kiosk"


class CredentialsError(KioskError):
    """No password is available for the configured SMTP login."""


def smtp_password(username: str) -> str:
    """The password for ``username``: environment first, then the keyring."""
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return from_env
    hint = f"no password: set {ENV_VAR} or store one with keyring (python -m keyring set {KEYRING_SERVICE} {username})"
    try:
        import keyring
        from keyring.errors import KeyringError, NoKeyringError

        stored = keyring.get_password(KEYRING_SERVICE, username)
    except ImportError:
        raise CredentialsError(hint) from None
    except NoKeyringError:
        raise CredentialsError(f"{hint}; no keyring backend is available on this system") from None
    except KeyringError as exc:
        raise CredentialsError(f"{hint}; keyring failed: {type(exc).__name__}") from None
    if not stored:
        raise CredentialsError(hint)
    return stored
