"""The rules for people's names and external IDs: what counts as the same name, and what is accepted.

Groups follow the same rule for their names (core.gallery.timekeeping_store).
"""

from __future__ import annotations

import unicodedata

from core.base.errors import InvalidInputError

MAX_NAME_LEN = 200


def name_key(name: str) -> str:
    """What two names must share to count as the same: case, spacing and Unicode form ignored."""
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


def clean_name(name: str) -> str:
    if not isinstance(name, str):
        raise InvalidInputError("A name must be text.")
    name = name.strip()
    if not name:
        raise InvalidInputError("Please type a name; it cannot be empty or only spaces.")
    if len(name) > MAX_NAME_LEN:
        raise InvalidInputError(f"That name has {len(name)} characters; the limit is {MAX_NAME_LEN}.")
    return name


def clean_external_id(external_id: str | None) -> str | None:
    if external_id is None:
        return None
    external_id = str(external_id).strip()
    if len(external_id) > MAX_NAME_LEN:
        raise InvalidInputError(f"An external id can have at most {MAX_NAME_LEN} characters.")
    return external_id or None
