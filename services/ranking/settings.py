"""Ranking's one settings schema: the settings every service shares (leitai/config.py,
SERVICE_KEYS) and none of its own."""

from leitai.config import service_settings as load

__all__ = ["load"]
