"""Roadie's runtime: config, CLI, wiring, scheduler, web server, GitHub client and transports."""

from importlib.metadata import PackageNotFoundError, version


def roadie_version() -> str:
    """The installed distribution's version (pyproject.toml's, once installed)."""
    try:
        return version("roadie")
    except PackageNotFoundError:
        return "0+unknown"
