# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""Firmware exports of an artefact-only device: which files, from its knobs, and bringing them in line.

Beside key.pem, cert.pem, chain.pem and fullchain.pem in <pki_dir>/hosts/<host>/ (see _host_artifacts), by format:

- der:     cert.der, key.der (PKCS#8, 0600), ca.der (the trust anchor)
- der_inc: cert.der.inc, key.der.inc (0600), ca.der.inc (Zephyr-style hex bytes for an #include)
- pkcs12:  <host>.p12 (0600) with key, certificate and CA certificates, under fleet_pki_pkcs12_password
- c_header: <prefix>.h, and with fleet_pki_c_source <prefix>.c (see _c_export)

Every file is written atomically, only when its content would change (PKCS#12: see _pkcs12_export), with mode 0600
when it holds the private key and 0644 otherwise. Check mode writes nothing and says what would change.
"""

from __future__ import annotations

import dataclasses
import os
import stat

from ansible_collections.fleet.pki.plugins.module_utils._atomic_files import read_file, write_file_atomic
from ansible_collections.fleet.pki.plugins.module_utils._c_export import (
    COptions, Material, default_prefix, der_inc, render, validate_prefix,
)
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import describe
from ansible_collections.fleet.pki.plugins.module_utils._crypto import ec, load_own_private_key, require_cryptography, rsa, serialization, x509
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._pkcs12_export import (
    DEFAULT_ENCRYPTION, build as build_pkcs12, holds as pkcs12_holds, validate_encryption,
)
from ansible_collections.fleet.pki.plugins.module_utils._trust_label import TrustAnchorError, pem_blocks, pem_body_to_der

FORMATS = ("pem", "der", "der_inc", "pkcs12", "c_header")
DEFAULT_FORMATS = ("pem", "der")
# The knobs (fleet_pki_<name>) export_settings() takes.
EXPORT_KNOBS = ("artifact_formats", "pkcs12_password", "pkcs12_encryption", "c_prefix", "c_source", "c_netburner",
                "c_freertos", "c_bearssl")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0", "")


@dataclasses.dataclass(frozen=True)
class ExportSettings:
    host: str
    formats: tuple = DEFAULT_FORMATS
    pkcs12_password: str = dataclasses.field(default=None, repr=False)
    pkcs12_encryption: str = DEFAULT_ENCRYPTION
    c_options: COptions = None


def export_settings(host, artifact_formats=None, pkcs12_password=None, pkcs12_encryption=None, c_prefix=None,
                    c_source=None, c_netburner=None, c_freertos=None, c_bearssl=None):
    """Validate one host's export knobs (None = not set). Every error names the host and the value, never the password."""
    try:
        formats = _formats(artifact_formats)
        encryption = validate_encryption(pkcs12_encryption or DEFAULT_ENCRYPTION)
        if pkcs12_password is not None and not isinstance(pkcs12_password, str):
            raise FleetPkiError("fleet_pki_pkcs12_password must be a string")
        if "pkcs12" in formats and not pkcs12_password:
            raise FleetPkiError("fleet_pki_artifact_formats has 'pkcs12' but fleet_pki_pkcs12_password is not set: "
                                "a PKCS#12 is never written without a password (keep it in ansible-vault)")
        prefix = validate_prefix(c_prefix) if c_prefix not in (None, "") else default_prefix(host)
        options = COptions(prefix=prefix, source=_bool(c_source, "fleet_pki_c_source"),
                           netburner=_bool(c_netburner, "fleet_pki_c_netburner"),
                           freertos=_bool(c_freertos, "fleet_pki_c_freertos"),
                           bearssl=_bool(c_bearssl, "fleet_pki_c_bearssl"))
    except FleetPkiError as exc:
        raise FleetPkiError(f"host {host}: {exc}") from None
    return ExportSettings(host, formats, pkcs12_password, encryption, options)


def _formats(value):
    if value in (None, ""):
        return DEFAULT_FORMATS
    if isinstance(value, str):
        raise FleetPkiError(f"fleet_pki_artifact_formats must be a list, not the string '{value}'")
    formats = []
    for entry in value:
        if entry not in FORMATS:
            raise FleetPkiError(f"fleet_pki_artifact_formats entry '{entry}' is not one of {', '.join(FORMATS)}")
        if entry not in formats:
            formats.append(entry)
    if "pem" not in formats:
        formats.insert(0, "pem")  # key.pem, cert.pem and chain.pem are the device's record: always there
    return tuple(formats)


def _bool(value, name):
    if value is None or isinstance(value, bool):
        return bool(value)
    if str(value).strip().lower() in _TRUE:
        return True
    if str(value).strip().lower() in _FALSE:
        return False
    raise FleetPkiError(f"{name} '{value}' is not a boolean")


@dataclasses.dataclass(frozen=True)
class _Export:
    name: str  # file name in the host directory
    kind: str  # the key in the task's `artifacts` result
    holds_key: bool
    content: object = None  # bytes, or None for PKCS#12 (built only when needed)


def planned_files(settings):
    """{kind: file name} of the exports `settings` ask for, without reading any material."""
    names = {}
    if "der" in settings.formats:
        names.update(cert_der="cert.der", key_der="key.der", ca_der="ca.der")
    if "der_inc" in settings.formats:
        names.update(cert_der_inc="cert.der.inc", key_der_inc="key.der.inc", ca_der_inc="ca.der.inc")
    if "pkcs12" in settings.formats:
        names["pkcs12"] = f"{settings.host}.p12"
    if "c_header" in settings.formats:
        names["c_header"] = f"{settings.c_options.prefix}.h"
        if settings.c_options.source:
            names["c_source"] = f"{settings.c_options.prefix}.c"
    return names


def converge_exports(directory, settings, chain_pem, check_mode=False, pending=False):
    """Bring the exports in `directory` in line with key.pem and cert.pem there and `chain_pem` (the CA chain).

    With `pending` (check mode, and a new certificate would be issued) every planned export counts as changing.
    Returns ({kind: path}, [changed file names, sorted]).
    """
    planned = planned_files(settings)
    paths = {kind: os.path.join(directory, name) for kind, name in planned.items()}
    if not planned:
        return paths, []
    if pending:
        return paths, sorted(planned.values())
    key_pem, cert_pem = read_file(os.path.join(directory, "key.pem")), read_file(os.path.join(directory, "cert.pem"))
    if key_pem is None or cert_pem is None:
        if check_mode:
            return paths, sorted(planned.values())
        raise FleetPkiError(f"exports need key.pem and cert.pem in {directory}")
    changed = []
    for export in _exports(settings, key_pem, cert_pem, chain_pem):
        path = os.path.join(directory, export.name)
        mode = 0o600 if export.holds_key else 0o644
        if export.kind == "pkcs12":
            current = read_file(path)
            material = _pkcs12_material(key_pem, cert_pem, chain_pem)
            if pkcs12_holds(current, *material, settings.pkcs12_password, settings.pkcs12_encryption):
                _fix_mode(path, mode, check_mode)
                continue
            changed.append(export.name)
            if not check_mode:
                write_file_atomic(path, build_pkcs12(settings.host, *material, settings.pkcs12_password,
                                                     settings.pkcs12_encryption), mode=mode)
            continue
        if read_file(path) == export.content:
            _fix_mode(path, mode, check_mode)
            continue
        changed.append(export.name)
        if not check_mode:
            write_file_atomic(path, export.content, mode=mode)
    return paths, sorted(changed)


def _fix_mode(path, mode, check_mode):
    """Keep key-holding exports at 0600 even when someone loosened them (reported as no content change)."""
    if stat.S_IMODE(os.stat(path).st_mode) != mode and not check_mode:
        os.chmod(path, mode)


def _load(key_pem, cert_pem, chain_pem):
    require_cryptography()
    key_pem, cert_pem, chain_pem = (text.encode() if isinstance(text, str) else text for text in (key_pem, cert_pem, chain_pem))
    try:
        key = load_own_private_key(key_pem)
        certificate = x509.load_pem_x509_certificate(cert_pem)
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError:
        raise FleetPkiError("key.pem, cert.pem or the CA chain is not readable; exports need all three") from None
    return key, certificate, chain


def _pkcs12_material(key_pem, cert_pem, chain_pem):
    return _load(key_pem, cert_pem, chain_pem)


def material(key_pem, cert_pem, chain_pem):
    """The C export's Material from PEM text or bytes (key unencrypted)."""
    key, certificate, chain = _load(key_pem, cert_pem, chain_pem)
    der = serialization.Encoding.DER
    pkcs8 = serialization.PrivateFormat.PKCS8
    anchor = chain[-1]
    return Material(
        cert_der=certificate.public_bytes(der),
        cert_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        key_der=key.private_bytes(der, pkcs8, serialization.NoEncryption()),
        key_pem=key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()).decode(),
        ca_der=anchor.public_bytes(der),
        ca_pem=anchor.public_bytes(serialization.Encoding.PEM).decode(),
        chain_pem="".join(ca.public_bytes(serialization.Encoding.PEM).decode() for ca in chain),
        facts=describe(certificate),
        issuer=certificate.issuer.rfc4514_string(),
        ca_dn_der=anchor.subject.public_bytes(),
        ca_public_key=_bearssl_key(anchor.public_key()),
    )


def _bearssl_key(public_key):
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        point = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return ("EC", public_key.curve.name, point)
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        return ("RSA", _unsigned(numbers.n), _unsigned(numbers.e))
    return ()


def _unsigned(value):
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _plain_ders(key_pem, cert_pem, chain_pem):
    """(certificate, PKCS#8 key, CA) DER straight from PEM files as fleet.pki writes them, or None.

    PEM is base64 of DER, so nothing needs parsing: the per-device cost of a fleet's DER exports. None when a
    file is in another form (another key format, say); then material() parses and checks everything.
    """
    try:
        blocks = [pem_blocks(text.decode("ascii") if isinstance(text, bytes) else text)
                  for text in (cert_pem, key_pem, chain_pem)]
        if [kind for kind, _body in blocks[0]] != ["CERTIFICATE"] or [kind for kind, _body in blocks[1]] != ["PRIVATE KEY"]:
            return None
        if not blocks[2] or any(kind != "CERTIFICATE" for kind, _body in blocks[2]):
            return None
        return tuple(pem_body_to_der(found[index][1]) for found, index in zip(blocks, (0, 0, -1)))
    except (UnicodeDecodeError, TrustAnchorError):
        return None


def _exports(settings, key_pem, cert_pem, chain_pem):
    planned = planned_files(settings)
    ders = None if "c_header" in settings.formats else _plain_ders(key_pem, cert_pem, chain_pem)
    data = material(key_pem, cert_pem, chain_pem) if ders is None else None  # the C exports need every fact
    cert_der, key_der, ca_der = ders or (data.cert_der, data.key_der, data.ca_der)
    exports = []
    if "der" in settings.formats:
        exports += [_Export(planned["cert_der"], "cert_der", False, cert_der),
                    _Export(planned["key_der"], "key_der", True, key_der),
                    _Export(planned["ca_der"], "ca_der", False, ca_der)]
    if "der_inc" in settings.formats:
        exports += [_Export(planned["cert_der_inc"], "cert_der_inc", False, der_inc(cert_der).encode()),
                    _Export(planned["key_der_inc"], "key_der_inc", True, der_inc(key_der).encode()),
                    _Export(planned["ca_der_inc"], "ca_der_inc", False, der_inc(ca_der).encode())]
    if "pkcs12" in settings.formats:
        exports.append(_Export(planned["pkcs12"], "pkcs12", True))
    if "c_header" in settings.formats:
        files = render(data, settings.c_options, settings.host)
        for kind in ("c_header", "c_source"):
            if kind in planned:
                text, holds_key = files[planned[kind]]
                exports.append(_Export(planned[kind], kind, holds_key, text.encode()))
    return exports
