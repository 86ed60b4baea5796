"""Settings by dotted key (`recognition.match_threshold`): listing, reading, and setting from text.

`rollcall config` uses this, so a headless kiosk or a script changes a setting with the same checks
as the Settings dialog: the typed fields of core.base.settings, with the key named in every error.
"""

from __future__ import annotations

import difflib
import enum
import json
import typing
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.base.errors import SettingsError
from core.base.settings import SECTIONS, Settings, checked_value, field_types, type_name

# Written only by their own dialog: the PIN is stored as a salted hash, never typed in.
WRITE_PROTECTED = {"security.admin_pin_hash": "Set or clear the admin PIN in the window's Settings (stored as a hash)."}
TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class SettingInfo:
    key: str  # section.field
    value: Any
    default: Any
    type_name: str  # what a value must be, in words

    @property
    def changed(self) -> bool:
        return self.value != self.default

    def shown_value(self) -> str:
        return shown(self.key, self.value)


@dataclass(frozen=True)
class SettingChanged:
    """What `set_setting` changed (old == new when the value was already so)."""

    key: str
    old: Any
    new: Any


def all_keys() -> list[str]:
    return [f"{section}.{name}" for section, cls in SECTIONS.items() for name in field_types(cls)]


def _split(key: str) -> tuple[str, str]:
    section, _, name = key.partition(".")
    cls = SECTIONS.get(section)
    if cls is None or name not in field_types(cls):
        near = difflib.get_close_matches(key, all_keys(), n=3)
        hint = f" Did you mean {', '.join(near)}?" if near else " `rollcall config list` shows every key."
        raise SettingsError(f"There is no setting {key!r}.{hint}")
    return section, name


def shown(key: str, value: Any) -> str:
    """A value as `config` prints it: JSON for lists and numbers, enums by value, secrets masked."""
    if key in WRITE_PROTECTED:
        return "(set)" if value else "(not set)"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, str):
        return value or '""'
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def describe(settings: Settings, key: str) -> SettingInfo:
    section, name = _split(key)
    expected = field_types(SECTIONS[section])[name]
    default = getattr(SECTIONS[section](), name)
    return SettingInfo(key, getattr(getattr(settings, section), name), default, type_name(expected))


def list_settings(settings: Settings, section: str | None = None) -> list[SettingInfo]:
    if section is not None and section not in SECTIONS:
        raise SettingsError(f"There is no settings section {section!r}; sections: {', '.join(SECTIONS)}.")
    return [describe(settings, key) for key in all_keys() if section is None or key.startswith(section + ".")]


def parse_value(key: str, text: str, expected: Any) -> Any:
    """`text` from a command line as the field's type, checked as a settings file value is."""

    def refuse() -> SettingsError:
        return SettingsError(f"Setting {key} = {text!r} is not {type_name(expected)}.")

    if expected is bool:
        word = text.strip().lower()
        if word not in TRUE_WORDS | FALSE_WORDS:
            raise refuse()
        value: Any = word in TRUE_WORDS
    elif expected is int:
        try:
            value = int(text.strip())
        except ValueError:
            raise refuse() from None
    elif expected is float:
        try:
            value = float(text.strip())
        except ValueError:
            raise refuse() from None
    elif typing.get_origin(expected) is tuple:
        try:
            parsed = json.loads(text) if text.strip().startswith("[") else [float(v) for v in text.split(",")]
        except ValueError:
            raise refuse() from None
        value = parsed
    else:  # str and enums: the text itself
        value = text
    value = checked_value(key, value, expected)
    if key == "attendance.time_zone" and value:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"Setting {key} = {text!r} is not a time zone; use an IANA name like "
                'Europe/London, or "" for this machine\'s zone.'
            ) from None
    return value


def set_setting(settings: Settings, key: str, text: str) -> SettingChanged:
    """Set one value from text; the caller saves. Raises SettingsError naming the key, changing nothing."""
    section, name = _split(key)
    if key in WRITE_PROTECTED:
        raise SettingsError(f"{key} cannot be set here. {WRITE_PROTECTED[key]}")
    target = getattr(settings, section)
    old = getattr(target, name)
    new = parse_value(key, text, field_types(SECTIONS[section])[name])
    setattr(target, name, new)
    return SettingChanged(key, old, new)


def reset_setting(settings: Settings, key: str) -> SettingChanged:
    """Back to the default value; the caller saves."""
    info = describe(settings, key)
    if key in WRITE_PROTECTED:
        raise SettingsError(f"{key} cannot be reset here. {WRITE_PROTECTED[key]}")
    section, name = _split(key)
    setattr(getattr(settings, section), name, info.default)
    return SettingChanged(key, info.value, info.default)
