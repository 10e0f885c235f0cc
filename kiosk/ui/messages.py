"""Every sentence the visitor reads (or hears), in one table per language: never strings in widgets.

``[ui] language`` picks the table; a key missing from a language falls back to English, so a new
message can never leave the screen blank.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "waiting": "WAITING",
        "waiting.detail": "Please step up to the camera",
        "checking": "CHECKING…",
        "hint.look_at_camera": "Please look at the camera",
        "hint.adjust_mask": "Please adjust your mask over your nose",
        "granted": "ACCESS GRANTED",
        "granted.detail": "Thank you for wearing a mask",
        "granted.soft": "mask required, logged",
        "denied": "ACCESS DENIED",
        "denied.detail": "PLEASE WEAR A MASK",
        "uncertain": "ACCESS DENIED",
        "uncertain.detail": "Mask not confirmed — please ask staff",
        "out_of_service": "OUT OF SERVICE",
        "out_of_service.detail": "Please ask staff",
        # spoken ([ui] voice): short sentences, said once
        "voice.granted": "Thank you.",
        "voice.granted.soft": "Please wear a mask.",
        "voice.denied": "Please wear a mask.",
        "voice.uncertain": "Your mask could not be checked. Please ask staff.",
        "voice.look_at_camera": "Please look at the camera.",
        "voice.adjust_mask": "Please adjust your mask.",
    },
    "fr": {
        "waiting": "EN ATTENTE",
        "waiting.detail": "Veuillez vous placer devant la caméra",
        "checking": "VÉRIFICATION…",
        "hint.look_at_camera": "Veuillez regarder la caméra",
        "hint.adjust_mask": "Veuillez ajuster votre masque sur le nez",
        "granted": "ACCÈS AUTORISÉ",
        "granted.detail": "Merci de porter un masque",
        "granted.soft": "masque obligatoire, enregistré",
        "denied": "ACCÈS REFUSÉ",
        "denied.detail": "VEUILLEZ PORTER UN MASQUE",
        "uncertain": "ACCÈS REFUSÉ",
        "uncertain.detail": "Masque non confirmé — adressez-vous au personnel",
        "out_of_service": "HORS SERVICE",
        "out_of_service.detail": "Veuillez vous adresser au personnel",
        "voice.granted": "Merci.",
        "voice.granted.soft": "Veuillez porter un masque.",
        "voice.denied": "Veuillez porter un masque.",
        "voice.uncertain": "Votre masque n'a pas pu être vérifié. Veuillez vous adresser au personnel.",
        "voice.look_at_camera": "Veuillez regarder la caméra.",
        "voice.adjust_mask": "Veuillez ajuster votre masque.",
    },
}


def message(key: str, language: str = "en") -> str:
    """The text of ``key`` in ``language``, else in English."""
    return MESSAGES.get(language, {}).get(key) or MESSAGES["en"][key]
