"""Tunables of public warnings (environment ``OPS_CAP_*``), kept apart from the core Settings; the signing key
itself is core (``OPS_SIGNING_KEY_FILE``, ``OPS_SIGNING_CERT_FILE``)."""

from __future__ import annotations

import os
import re
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_CAP_TOKEN = re.compile(r"^[^\s,<&]{1,120}$")  # CAP: identifier and sender have no spaces, commas, '<' or '&'


class WarningsConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPS_CAP_", env_file=os.environ.get("OPS_ENV_FILE", ".env"),
                                      env_file_encoding="utf-8", extra="ignore")

    sender: str = "ioc@camau.gov.vn"
    """CAP <sender>: who issues the messages (globally unique; an e-mail-like address is the custom)."""
    sender_name_vi: str = "Trung tâm Điều hành Thông minh tỉnh Cà Mau"
    sender_name_en: str = "Ca Mau Provincial Intelligent Operations Center"
    identifier_prefix: str = "vn.camau.ioc"
    """CAP <identifier> = prefix.YYYYMMDD.message id."""
    contact: str = "Trung tâm Điều hành Thông minh tỉnh Cà Mau"
    public_base_url: str = "http://127.0.0.1:8000"
    """Where the public feed is reached from outside: links in the feed and <web> point here."""
    geocode_value_name: str = "VN-GSO-DVHC"
    """<geocode><valueName> of ward codes: the statistics office's administrative unit codes."""
    polygon_max_points: int = Field(default=100, ge=4, le=1000)
    """Vertices per <polygon> at most (the first point repeated at the end counts)."""
    polygon_min_share: float = Field(default=0.01, ge=0.0, le=0.5)
    """Parts of a ward smaller than this share of it are left out of its polygons (the geocode still covers them)."""
    feed_rate: str = "120/minute"
    """Public feed rate limit per client address (``limits`` notation)."""
    feed_cache_s: float = Field(default=5.0, ge=0.0, le=300.0)
    """How long one process reuses the rendered Atom index; also its Cache-Control max-age."""
    cancel_listed_h: float = Field(default=24.0, ge=0.0, le=720.0)
    """A Cancel stays in the feed this long (or until the cancelled message would have expired, if later)."""
    max_wards: int = Field(default=100, ge=1, le=1000)

    @field_validator("sender", "identifier_prefix")
    @classmethod
    def _token(cls, v: str) -> str:
        if not _CAP_TOKEN.match(v):
            raise ValueError(f"must have no spaces, commas, '<' or '&' (CAP 1.2), got {v!r}")
        return v


@lru_cache(maxsize=1)
def get_config() -> WarningsConfig:
    return WarningsConfig()
