"""Typed settings, parsed once from the environment and command-line flags."""

from config.settings import Settings, SettingsError, load_settings

__all__ = ["Settings", "SettingsError", "load_settings"]
