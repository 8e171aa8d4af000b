# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""C source for firmware: a header (and optional .c) with the device's credentials, and Zephyr-style .der.inc text.

Plain text in, plain text out, and deterministic: the same material gives the same bytes, so a rerun that
changes nothing rewrites nothing. Layout and the facts behind it: docs/devices-firmware.md.

- DER objects become `unsigned char` arrays with a `_len` constant of their exact size.
- PEM objects become NUL-terminated string literals whose `_len` counts the NUL (`strlen + 1`), which is what
  mbedTLS (`mbedtls_x509_crt_parse`, `mbedtls_pk_parse_key`) wants for PEM.
- Options: NetBurner names (`comp_cert`, `comp_key` and their `_len`), FreeRTOS / AWS IoT macros
  (`keyCLIENT_CERTIFICATE_PEM`, `keyCLIENT_PRIVATE_KEY_PEM`, `keyJITR_DEVICE_CERTIFICATE_AUTHORITY_PEM`) and
  BearSSL's pre-decoded trust anchor (`br_x509_trust_anchor`, as `brssl ta` shapes it) plus the leaf chain.
"""

from __future__ import annotations

import dataclasses
import re

from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError

MAX_PREFIX_LENGTH = 40
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_C_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if inline int long
    register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while
    bool true false alignas alignof asm class delete explicit friend mutable namespace new operator private
    protected public template this throw try typename using virtual
""".split())
BEARSSL_CURVES = {"secp256r1": "BR_EC_secp256r1", "secp384r1": "BR_EC_secp384r1", "secp521r1": "BR_EC_secp521r1"}
BYTES_PER_LINE = 12
INC_BYTES_PER_LINE = 8


@dataclasses.dataclass(frozen=True)
class Material:
    """What goes into the C text. DER as bytes, PEM as str; `facts` is describe() of the leaf (public only)."""

    cert_der: bytes
    cert_pem: str
    key_der: bytes  # PKCS#8
    key_pem: str  # PKCS#8
    ca_der: bytes  # the trust anchor: the last certificate of the chain
    ca_pem: str
    chain_pem: str  # every CA certificate, as delivered in chain.pem
    facts: dict
    issuer: str = ""
    # BearSSL trust anchor of the CA: ("EC", curve name, uncompressed point) or ("RSA", modulus, exponent), and its DN
    ca_dn_der: bytes = b""
    ca_public_key: tuple = ()


@dataclasses.dataclass(frozen=True)
class COptions:
    prefix: str
    source: bool = False  # also a .c: the header then only declares
    netburner: bool = False
    freertos: bool = False
    bearssl: bool = False


def sanitise_identifier(text):
    """A C identifier from any text: every character outside [A-Za-z0-9_] becomes '_' (like the ESP8266 cert.py)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", str(text))
    if not name or not name[0].isalpha():
        name = "fleet_" + name  # identifiers starting with '_' or a digit are reserved or invalid
    return name[:MAX_PREFIX_LENGTH].lower()


def default_prefix(host):
    return sanitise_identifier(host)


def validate_prefix(value):
    """Return the prefix, or raise saying why it cannot start C identifiers."""
    if not isinstance(value, str) or not value:
        raise FleetPkiError(f"fleet_pki_c_prefix '{value}' is not a valid C identifier prefix: it is empty or not a string")
    if not _PREFIX.match(value):
        raise FleetPkiError(f"fleet_pki_c_prefix '{value}' is not a valid C identifier prefix: it must start with a letter "
                            "and hold only letters, digits and '_'")
    if len(value) > MAX_PREFIX_LENGTH:
        raise FleetPkiError(f"fleet_pki_c_prefix '{value}' is longer than {MAX_PREFIX_LENGTH} characters")
    if value in _C_KEYWORDS:
        raise FleetPkiError(f"fleet_pki_c_prefix '{value}' is a C or C++ keyword")
    return value


def c_string_literal(text, indent="    "):
    """A NUL-terminated C string literal, one quoted piece per line of `text` (each piece ends in \\n)."""
    if not text:
        return '""'
    pieces = []
    for line in text.splitlines(keepends=True):
        pieces.append('"' + "".join(_escape(char) for char in line) + '"')
    return ("\n" + indent).join(pieces)


def _escape(char):
    if char == "\n":
        return "\\n"
    if char in ('"', "\\", "?"):  # '?' too: no trigraphs
        return "\\" + char
    if " " <= char <= "~":
        return char
    code = ord(char)
    if code > 0xFF:
        raise FleetPkiError("PEM text holds a character that is not ASCII")
    return f"\\{code:03o}"  # three octal digits: never merges with the next character


def byte_rows(data, per_line=BYTES_PER_LINE, indent="    ", upper=True):
    """`data` as rows of 0xNN, each row comma-terminated except the last byte."""
    fmt = "0x{:02X}" if upper else "0x{:02x}"
    rows = []
    for start in range(0, len(data), per_line):
        rows.append(indent + ", ".join(fmt.format(byte) for byte in data[start:start + per_line]))
    return ",\n".join(rows)


def der_inc(data):
    """Zephyr `generate_inc_file_for_target` style: comma-separated hex bytes to #include inside an initializer."""
    lines = []
    for start in range(0, len(data), INC_BYTES_PER_LINE):
        lines.append("".join(f"0x{byte:02x}, " for byte in data[start:start + INC_BYTES_PER_LINE]).rstrip())
    return "\n".join(lines) + "\n" if lines else ""


class _Symbol:
    """One exported object: its declaration (for the header of a .c) and its definition."""

    def __init__(self, c_type, name, initializer, array=True, holds_key=False, size=None, comment=""):
        self.c_type, self.name, self.initializer = c_type, name, initializer
        self.array, self.holds_key, self.size, self.comment = array, holds_key, size, comment

    def declaration(self):
        return f"extern {self.c_type} {self.name}{'[]' if self.array else ''};"

    def definition(self, static):
        storage = "static " if static else ""
        brackets = "[]" if self.array else ""
        comment = f"  /* {self.comment} */" if self.comment else ""
        separator = "" if self.initializer.startswith("\n") else " "
        return f"{storage}{self.c_type} {self.name}{brackets} ={separator}{self.initializer};{comment}"


def _der_array(name, data, holds_key=False):
    return _Symbol("const unsigned char", name, "{\n" + byte_rows(data) + "\n}", holds_key=holds_key, size=len(data))


def _pem_string(name, text, holds_key=False):
    return _Symbol("const char", name, "\n    " + c_string_literal(text), holds_key=holds_key, size=len(text.encode()) + 1)


def _length(name, value, c_type="const size_t", comment=""):
    return _Symbol(c_type, name, str(value), array=False, comment=comment)


def _symbols(material, options):
    p = options.prefix
    symbols = []
    for obj, der, holds_key in (("cert", material.cert_der, False), ("key", material.key_der, True),
                                ("ca", material.ca_der, False)):
        symbols.append(_der_array(f"{p}_{obj}_der", der, holds_key))
        symbols.append(_length(f"{p}_{obj}_der_len", len(der), comment="exact DER size"))
    for obj, pem, holds_key in (("cert", material.cert_pem, False), ("key", material.key_pem, True),
                                ("ca", material.ca_pem, False), ("chain", material.chain_pem, False)):
        string = _pem_string(f"{p}_{obj}_pem", pem, holds_key)
        symbols.append(string)
        symbols.append(_length(f"{p}_{obj}_pem_len", string.size, comment="strlen + 1: the NUL counts (mbedTLS)"))
    if options.netburner:
        for obj, pem, holds_key in (("cert", material.cert_pem, False), ("key", material.key_pem, True)):
            data = pem.encode() + b"\0"
            symbols.append(_der_array(f"comp_{obj}", data, holds_key))
            symbols.append(_length(f"comp_{obj}_len", len(data) - 1, "const unsigned long",
                                   "PEM bytes as compfile counts them; the array also ends in a NUL"))
    if options.bearssl:
        symbols += _bearssl_symbols(material, options)
    return symbols


def _bearssl_symbols(material, options):
    p = options.prefix
    kind = material.ca_public_key[0] if material.ca_public_key else None
    symbols = [_der_array(f"{p}_TA0_DN", material.ca_dn_der)]
    dn = f"(unsigned char *){p}_TA0_DN, {len(material.ca_dn_der)}"
    if kind == "EC":
        _kind, curve, point = material.ca_public_key
        if curve not in BEARSSL_CURVES:
            raise FleetPkiError(f"the CA key's curve '{curve}' has no BearSSL curve id")
        symbols.append(_der_array(f"{p}_TA0_EC_Q", point))
        key = (f"{{ BR_KEYTYPE_EC, {{ .ec = {{ {BEARSSL_CURVES[curve]}, (unsigned char *){p}_TA0_EC_Q, {len(point)} }} }} }}")
    elif kind == "RSA":
        _kind, modulus, exponent = material.ca_public_key
        symbols.append(_der_array(f"{p}_TA0_RSA_N", modulus))
        symbols.append(_der_array(f"{p}_TA0_RSA_E", exponent))
        key = (f"{{ BR_KEYTYPE_RSA, {{ .rsa = {{ (unsigned char *){p}_TA0_RSA_N, {len(modulus)}, "
               f"(unsigned char *){p}_TA0_RSA_E, {len(exponent)} }} }} }}")
    else:
        raise FleetPkiError("the CA key is neither EC nor RSA; BearSSL has no trust anchor form for it")
    symbols.append(_Symbol("const br_x509_trust_anchor", f"{p}_TAs", f"{{\n    {{ {{ {dn} }}, BR_X509_TA_CA, {key} }}\n}}"))
    symbols.append(_Symbol("const br_x509_certificate", f"{p}_CHAIN",
                           f"{{\n    {{ (unsigned char *){p}_cert_der, {len(material.cert_der)} }}\n}}"))
    return symbols


def _banner(material, options, file_name, holds_key, host):
    facts = material.facts
    warning = (
        [" * !!! GENERATED FILE - CONTAINS A PRIVATE KEY - DO NOT COMMIT IT, DO NOT SHARE IT !!!",
         " * Anyone who has this file can impersonate the device. Keep it out of version control and build logs.",
         " * Every unit needs its own key: a key compiled into an image is shared by every unit built from it.",
         " * Prefer loading per-device material at run time (flash partition, NVS, LittleFS, upload)."]
        if holds_key else
        [" * Generated file. The device's PRIVATE KEY is in the matching .c file: do not commit that one."]
    )
    lines = ["/*", f" * {file_name}: TLS credentials of device {host}, generated by fleet.pki. Do not edit.", " *"]
    lines += warning
    lines += [
        " *",
        f" * Subject:     {facts.get('subject', '')}",
        f" * Issuer:      {material.issuer}",
        f" * SANs:        {', '.join(facts.get('sans', [])) or '(none)'}",
        f" * Serial:      {facts.get('serial', '')}",
        f" * Not before:  {facts.get('not_before', '')}",
        f" * Not after:   {facts.get('not_after', '')}",
        f" * Key type:    {facts.get('key_type', '')}",
        f" * SHA-256:     {facts.get('fingerprint_sha256', '')}",
        " *",
        f" * DER arrays: {options.prefix}_<obj>_der with {options.prefix}_<obj>_der_len (exact size).",
        f" * PEM strings: {options.prefix}_<obj>_pem with {options.prefix}_<obj>_pem_len = strlen + 1 "
        "(the NUL counts, as mbedTLS wants).",
        " * Objects: cert (this device), key (PKCS#8), ca (the trust anchor), chain (PEM only: every CA certificate).",
        " */",
    ]
    return "\n".join(lines)


def _freertos_macros(material):
    lines = ["/* FreeRTOS / AWS IoT names (aws_clientcredential_keys.h). */"]
    for macro, pem in (("keyCLIENT_CERTIFICATE_PEM", material.cert_pem), ("keyCLIENT_PRIVATE_KEY_PEM", material.key_pem),
                       ("keyJITR_DEVICE_CERTIFICATE_AUTHORITY_PEM", material.chain_pem)):
        pieces = [c_string_literal(line, indent="") for line in pem.splitlines(keepends=True)]
        lines.append(f"#define {macro} \\\n    " + " \\\n    ".join(pieces))
    return "\n".join(lines)


def _guard(options):
    return f"FLEET_PKI_{options.prefix.upper()}_H"


def render(material, options, host):
    """{file name: (text, holds_key)} for `<prefix>.h` and, with options.source, `<prefix>.c`."""
    options = dataclasses.replace(options, prefix=validate_prefix(options.prefix))
    symbols = _symbols(material, options)
    header_name, source_name = f"{options.prefix}.h", f"{options.prefix}.c"
    guard = _guard(options)
    body = ["#include <stddef.h>"]
    if options.bearssl:
        body += ["#ifndef BR_BEARSSL_H__  /* include <bearssl/bearssl.h> first where the SDK keeps it there */",
                 "#include <bearssl.h>", "#endif"]
    body.append("")
    body += ["#ifdef __cplusplus", 'extern "C" {', "#endif", ""]
    if options.source:
        body += [symbol.declaration() for symbol in symbols]
        header_holds_key = False
    else:
        body += [symbol.definition(static=True) + "\n" for symbol in symbols]
        header_holds_key = True
    if options.bearssl:
        body += ["", f"#define {options.prefix}_TAs_NUM 1", f"#define {options.prefix}_CHAIN_LEN 1"]
    if options.freertos:
        body += ["", _freertos_macros(material)]
        header_holds_key = True
    body += ["", "#ifdef __cplusplus", "}", "#endif"]
    header = "\n".join([_banner(material, options, header_name, header_holds_key, host), "",
                        f"#ifndef {guard}", f"#define {guard}", "", *body, "", f"#endif /* {guard} */", ""])
    files = {header_name: (header, header_holds_key)}
    if options.source:
        source = "\n".join([_banner(material, options, source_name, True, host), "",
                            f'#include "{header_name}"', "",
                            *[symbol.definition(static=False) + "\n" for symbol in symbols]])
        files[source_name] = (source, True)
    return files
