"""The center's signing key: an RSA private key and its X.509 certificate, as PEM files named by the settings
(``OPS_SIGNING_KEY_FILE``, ``OPS_SIGNING_CERT_FILE``). Public warnings are signed with it (XML Signature).

A deployment brings a key and a certificate issued for the center; for development and tests ``ensure_pair``
generates a self-signed pair (RSA 3072, SHA-256, two years) in files readable by their owner only. Keys are never
committed (``.run/`` is ignored)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from ops_center.settings import Settings

DEV_SUBJECT = "IOC Cà Mau - khóa phát triển (development key)"


class SigningKeyMissing(RuntimeError):
    """The settings name no key, or the files cannot be read."""


@dataclass(frozen=True, slots=True)
class SigningPair:
    key_pem: bytes
    cert_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def _self_signed(common_name: str, days: int) -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    cn = common_name.encode("utf-8")[:64].decode("utf-8", "ignore")  # X.509: at most 64 bytes
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")])
    now = datetime.now(UTC)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def _write_private(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def ensure_pair(key_file: Path, cert_file: Path, common_name: str = DEV_SUBJECT, days: int = 730) -> bool:
    """Generate a self-signed pair unless both files exist; True when it wrote them."""
    if key_file.is_file() and cert_file.is_file():
        return False
    key_pem, cert_pem = _self_signed(common_name, days)
    _write_private(key_file, key_pem, 0o600)
    _write_private(cert_file, cert_pem, 0o644)
    return True


def load_pair(settings: Settings) -> SigningPair:
    """The key and certificate the settings name; ``SigningKeyMissing`` naming the setting otherwise."""
    if settings.signing_key_file is None or settings.signing_cert_file is None:
        raise SigningKeyMissing("OPS_SIGNING_KEY_FILE and OPS_SIGNING_CERT_FILE must name the center's key and "
                                "certificate (PEM); `ops-center keys ensure` makes a development pair")
    try:
        pair = SigningPair(settings.signing_key_file.read_bytes(), settings.signing_cert_file.read_bytes())
        serialization.load_pem_private_key(pair.key_pem, password=None)
        _ = pair.certificate
    except (OSError, ValueError) as exc:
        raise SigningKeyMissing(f"signing key or certificate unreadable ({settings.signing_key_file}, "
                                f"{settings.signing_cert_file}): {exc}") from exc
    return pair
