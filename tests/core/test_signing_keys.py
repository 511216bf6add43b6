"""The center's signing key: a self-signed development pair is generated once (key readable by its owner only) and
kept afterwards; settings that name no key, or unreadable files, are refused naming the settings."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ops_center.settings import Settings
from ops_center.signing_keys import SigningKeyMissing, ensure_pair, load_pair


def test_generated_once_and_loaded(tmp_path: Path) -> None:
    key, cert = tmp_path / "keys" / "k.pem", tmp_path / "keys" / "c.pem"
    assert ensure_pair(key, cert) is True
    first = key.read_bytes()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert ensure_pair(key, cert) is False and key.read_bytes() == first
    pair = load_pair(Settings(env="dev", signing_key_file=key, signing_cert_file=cert))
    assert "CN=IOC Cà Mau" in pair.certificate.subject.rfc4514_string()  # UTF-8 in the name, intact


def test_missing_or_broken_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyMissing, match="OPS_SIGNING_KEY_FILE"):  # explicit: the session's stack sets them
        load_pair(Settings(env="dev", signing_key_file=None, signing_cert_file=None))
    (tmp_path / "k.pem").write_text("not a key")
    (tmp_path / "c.pem").write_text("not a certificate")
    with pytest.raises(SigningKeyMissing, match="unreadable"):
        load_pair(Settings(env="dev", signing_key_file=tmp_path / "k.pem", signing_cert_file=tmp_path / "c.pem"))
