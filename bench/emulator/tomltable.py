"""Reading one TOML table with checks that name the file and key path in every error."""

from __future__ import annotations

from typing import Any

from bench.errors import ConfigError


class TomlTable:
    """One TOML table being read: typed ``take`` that names the key on error, ``done`` rejects leftovers."""

    def __init__(self, source: str, path: str, data: Any) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: {path or '<top>'}: expected a table, got {kind_name(data)}")
        self.source = source
        self.path = path
        self._data = dict(data)

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.key(key)}: {problem}")

    def key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def child(self, key: str, data: Any) -> TomlTable:
        return TomlTable(self.source, self.key(key), data)

    def take(self, key: str, kind: type, default: Any = ...) -> Any:
        if key not in self._data:
            if default is ...:
                raise self.error(key, "is required")
            return default
        value = self._data.pop(key)
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise self.error(key, f"expected {kind.__name__}, got {kind_name(value)}")
        return value

    def allow(self, *keys: str) -> None:
        """Reject the first key not in ``keys`` before reading any (a typo is named as such)."""
        for key in self._data:
            if key not in keys:
                raise self.error(key, "unknown key")

    def done(self) -> None:
        if self._data:
            raise self.error(next(iter(self._data)), "unknown key")


def kind_name(value: Any) -> str:
    names = {dict: "table", list: "array", str: "string", bool: "boolean", int: "integer", float: "float"}
    return names.get(type(value), type(value).__name__)


def check_unique(table: TomlTable, key: str, names: list[str]) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise table.error(key, f"name {name!r} is defined twice")
        seen.add(name)
