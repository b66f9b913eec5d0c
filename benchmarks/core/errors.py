"""One exception type for bad user input, so the runner can print one clear line."""


class ConfigError(ValueError):
    """A config value is invalid. The message names the offending key."""


def require(condition: bool, key: str, message: str) -> None:
    """Raise `ConfigError("<key>: <message>")` unless `condition` holds."""
    if not condition:
        raise ConfigError(f"{key}: {message}")


def check_choice(key: str, value, choices):
    """`value`, or a ConfigError naming `key` unless it is one of `choices`."""
    require(value in choices, key, f"must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


def check_positive_int(key: str, value) -> int:
    """`value`, or a ConfigError naming `key` unless it is an integer >= 1 (not a bool)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    require(ok, key, f"must be a positive integer, got {value!r}")
    return value


def check_bool(key: str, value) -> bool:
    """`value`, or a ConfigError naming `key` unless it is true or false."""
    require(isinstance(value, bool), key, f"must be true or false, got {value!r}")
    return value
