"""One exception type for bad user input, so the runner can print one clear line."""


class ConfigError(ValueError):
    """A config value is invalid. The message names the offending key."""


def require(condition: bool, key: str, message: str) -> None:
    """Raise `ConfigError("<key>: <message>")` unless `condition` holds."""
    if not condition:
        raise ConfigError(f"{key}: {message}")
