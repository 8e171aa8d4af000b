# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The CA's policy for device CSRs: only the public key is taken, after proof of possession and the key rules."""

from __future__ import annotations

import ipaddress
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.fleet.pki.plugins.action.certificate import _issue_for_device_key
from ansible_collections.fleet.pki.plugins.module_utils._csr_policy import check_csr, ignored_warning
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._host_settings import host_settings
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue

REQUEST = LeafRequest("cam-01", (("IP", "10.0.0.1"), ("DNS", "cam-01.fleet.example")), "server", 30)


def csr_pem(key, subject=(("CN", "cam-01"),), extensions=(), algorithm=hashes.SHA256()):
    oids = {"CN": NameOID.COMMON_NAME, "O": NameOID.ORGANIZATION_NAME}
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(oids[kind], value) for kind, value in subject]))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, algorithm).public_bytes(serialization.Encoding.PEM).decode()


def malicious_extensions():
    return [
        (x509.BasicConstraints(ca=True, path_length=5), True),
        (x509.SubjectAlternativeName([x509.DNSName("bank.example"), x509.IPAddress(ipaddress.ip_address("8.8.8.8")),
                                      x509.IPAddress(ipaddress.ip_address("10.0.0.1"))]), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CODE_SIGNING]), False),
        (x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                       key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False,
                       decipher_only=False), True),
        (x509.NameConstraints(permitted_subtrees=[x509.DNSName("example")], excluded_subtrees=None), True),
    ]


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls).value


def test_a_malicious_csr_gets_a_profile_conformant_certificate_and_a_warning(authority):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = csr_pem(key, subject=(("CN", "evil.example"), ("O", "Evil")), extensions=malicious_extensions())
    public_key, ignored = check_csr("cam-01", pem, REQUEST, "ec-p256")
    assert public_key == key.public_key()
    cert = issue(authority, authority.private_key(), public_key, REQUEST)

    assert ext(cert, x509.BasicConstraints).ca is False
    san = ext(cert, x509.SubjectAlternativeName)
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.1")]
    assert san.get_values_for_type(x509.DNSName) == ["cam-01.fleet.example"]
    assert list(ext(cert, x509.ExtendedKeyUsage)) == [ExtendedKeyUsageOID.SERVER_AUTH]
    usage = ext(cert, x509.KeyUsage)
    assert usage.digital_signature and not usage.key_cert_sign and not usage.crl_sign
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert cert.subject.rfc4514_string() == "CN=cam-01"
    assert cert.public_key() == key.public_key()

    text = "; ".join(ignored)
    assert "CA:TRUE (pathlen 5)" in text
    assert "SANs not in the inventory (IP:8.8.8.8, DNS:bank.example)" in text and "10.0.0.1" not in text
    assert "extended key usage codeSigning" in text and "serverAuth" not in text
    assert "key usage key_cert_sign, crl_sign" in text
    assert "extension nameConstraints" in text
    assert "subject 'O=Evil,CN=evil.example'" in text
    warning = ignored_warning("cam-01", ignored, REQUEST)
    assert warning.startswith("host cam-01: the device's CSR asked for ") and "CA:TRUE" in warning
    assert "SANs IP:10.0.0.1, DNS:cam-01.fleet.example" in warning


def test_a_plain_device_csr_is_taken_without_a_warning():
    key = ec.generate_private_key(ec.SECP256R1())
    public_key, ignored = check_csr("cam-01", csr_pem(key), REQUEST, "ec-p256")
    assert public_key == key.public_key() and ignored == []


def test_inventory_sans_and_profile_ekus_asked_for_are_not_reported():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    extensions = [
        (x509.SubjectAlternativeName([x509.DNSName("CAM-01.fleet.example")]), False),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True, data_encipherment=False,
                       key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False,
                       decipher_only=False), True),
    ]
    _public_key, ignored = check_csr("cam-01", csr_pem(key, extensions=extensions), REQUEST, "rsa-2048")
    assert ignored == []


def _flip_last_signature_byte(pem):
    der = bytearray(x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01
    return x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()


def _swap_public_key(pem, other_key):
    """The CSR of one key, claiming another key: what someone without the other key's private half could send."""
    csr = x509.load_pem_x509_csr(pem.encode())
    der = csr.public_bytes(serialization.Encoding.DER)
    own = csr.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    foreign = other_key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    assert len(own) == len(foreign) and der.count(own) == 1
    swapped = x509.load_der_x509_csr(der.replace(own, foreign))
    assert swapped.public_key() == other_key.public_key()
    return swapped.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize("tamper", [_flip_last_signature_byte, "swap"], ids=["flipped signature", "foreign public key"])
def test_a_csr_whose_signature_does_not_verify_is_refused(tamper):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = csr_pem(key)
    bad = _swap_public_key(pem, ec.generate_private_key(ec.SECP256R1())) if tamper == "swap" else tamper(pem)
    assert check_csr("cam-01", pem, REQUEST, "ec-p256")  # the untampered one passes
    with pytest.raises(FleetPkiError) as error:
        check_csr("cam-01", bad, REQUEST, "ec-p256")
    message = str(error.value)
    assert message.startswith("host cam-01: the device's CSR (subject 'CN=cam-01') is refused: its signature does not verify")


def test_rsa_1024_is_refused_naming_host_and_value():
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(FleetPkiError) as error:
        check_csr("cam-01", csr_pem(key), REQUEST, "rsa-2048")
    assert str(error.value).startswith("host cam-01: the device's CSR is refused: key type 'rsa-1024' is refused: "
                                       "RSA below 2048 bits")


@pytest.mark.parametrize("key, wanted, actual", [
    (lambda: ec.generate_private_key(ec.SECP384R1()), "ec-p256", "ec-p384"),
    (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "ec-p256", "rsa-2048"),
    (lambda: ec.generate_private_key(ec.SECP256R1()), "rsa-3072", "ec-p256"),
])
def test_a_key_type_other_than_the_inventory_asks_for_is_refused(key, wanted, actual):
    with pytest.raises(FleetPkiError) as error:
        check_csr("cam-01", csr_pem(key()), REQUEST, wanted)
    assert str(error.value) == (f"host cam-01: the device's CSR is refused: its key type is '{actual}', "
                                f"but fleet_pki_key_type is '{wanted}'")


@pytest.mark.parametrize("key, name", [
    (ed25519.Ed25519PrivateKey.generate, "Ed25519PublicKey"),
    (lambda: ec.generate_private_key(ec.SECP521R1()), "ec-secp521r1"),
])
def test_key_types_the_ca_does_not_issue_are_refused(key, name):
    private = key()
    algorithm = None if isinstance(private, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    with pytest.raises(FleetPkiError) as error:
        check_csr("cam-01", csr_pem(private, algorithm=algorithm), REQUEST, "ec-p256")
    assert str(error.value).startswith(f"host cam-01: the device's CSR is refused: key type '{name}' is not one of")


@pytest.mark.parametrize("text", ["", "not a csr", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"])
def test_an_unreadable_csr_is_refused(text):
    with pytest.raises(FleetPkiError) as error:
        check_csr("cam-01", text, REQUEST, "ec-p256")
    assert str(error.value) == "host cam-01: the device's CSR is not a readable PEM certificate request"


class FakeDevice:
    """The action plugin's device target, answering with a given CSR and recording what it was sent."""

    def __init__(self, csr):
        self.csr, self.asked, self.installed = csr, [], []

    def new_device_key(self, key_type, common_name):
        self.asked.append((key_type, common_name))
        return self.csr

    def install_for_device_key(self, cert_pem, chain_pem):
        self.installed.append((cert_pem, chain_pem))
        return ["key", "cert", "chain", "fullchain"]


def device_settings(host="cam-01", key_type="ec-p256"):
    return host_settings(host, ansible_host="10.0.0.1", dns_names=["cam-01.fleet.example"], key_type=key_type,
                         key_location="device")


def test_the_action_signs_a_malicious_csr_conformantly_warns_and_keeps_no_key(authority, pki_dir, now):
    key = ec.generate_private_key(ec.SECP256R1())
    device = FakeDevice(csr_pem(key, subject=(("CN", "evil.example"),), extensions=malicious_extensions()))
    certificate, installed, warnings = _issue_for_device_key(device, authority, authority.private_key(),
                                                             device_settings(), now, pki_dir, keep_keys=True)
    assert device.asked == [("ec-p256", "cam-01")] and len(device.installed) == 1
    assert x509.load_pem_x509_certificate(device.installed[0][0].encode()) == certificate
    assert ext(certificate, x509.BasicConstraints).ca is False and certificate.public_key() == key.public_key()
    assert sorted(str(name.value) for name in ext(certificate, x509.SubjectAlternativeName)) == \
        ["10.0.0.1", "cam-01.fleet.example"]
    assert installed == ["key", "cert", "chain", "fullchain"]
    assert warnings[0].startswith("host cam-01: the device's CSR asked for ") and "CA:TRUE" in warnings[0]
    assert warnings[1].startswith("host cam-01: keep_keys has no effect with key_location 'device'")
    host_dir = os.path.join(pki_dir, "hosts", "cam-01")
    assert sorted(os.listdir(host_dir)) == ["cert.pem", "chain.pem", "fullchain.pem"]


def test_the_action_installs_nothing_for_a_refused_csr(authority, pki_dir, now):
    device = FakeDevice(csr_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)))
    index = open(os.path.join(pki_dir, "index.txt"), encoding="utf-8").read()
    with pytest.raises(FleetPkiError) as error:
        _issue_for_device_key(device, authority, authority.private_key(), device_settings(key_type="rsa-2048"), now,
                              pki_dir, keep_keys=False)
    assert "host cam-01: the device's CSR is refused: key type 'rsa-1024'" in str(error.value)
    assert device.installed == [] and not os.path.exists(os.path.join(pki_dir, "hosts", "cam-01"))
    assert open(os.path.join(pki_dir, "index.txt"), encoding="utf-8").read() == index
