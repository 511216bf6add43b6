"""XML Signature of CAP documents with the center's key (signxml): enveloped (the whole <alert>, reference URI
""), RSA-SHA256, SHA-256 digests, exclusive canonicalisation; the certificate travels in <ds:KeyInfo>. CAP 1.2
allows any number of elements of the XML Signature namespace at the end of <alert>, which is where the
<ds:Signature> goes, so a signed message still validates against the OASIS schema."""

from __future__ import annotations

from lxml import etree
from signxml import methods
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

from ops_center.signing_keys import SigningPair

EXCLUSIVE_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def sign(root: etree._Element, pair: SigningPair) -> bytes:
    """The signed document as UTF-8 bytes with an XML declaration."""
    signer = XMLSigner(method=methods.enveloped, signature_algorithm="rsa-sha256", digest_algorithm="sha256",
                       c14n_algorithm=EXCLUSIVE_C14N)
    signed = signer.sign(root, key=pair.key_pem, cert=pair.cert_pem.decode("ascii"))
    document: bytes = etree.tostring(signed, xml_declaration=True, encoding="UTF-8")
    return document


def verify(document: bytes, cert_pem: bytes) -> etree._Element:
    """The signed <alert> if ``document`` carries a valid signature by ``cert_pem``'s key placed as its last child;
    ``signxml.exceptions.InvalidSignature`` (or a subclass) otherwise."""
    result = XMLVerifier().verify(document, x509_cert=cert_pem.decode("ascii"),
                                  expect_config=SignatureConfiguration(location="./"))
    signed: etree._Element = result.signed_xml  # type: ignore[union-attr]
    return signed
