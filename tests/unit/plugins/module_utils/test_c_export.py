# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The C header / .c / .der.inc exports: text checks, and real C programs compiled with gcc against OpenSSL and BearSSL."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess

import pytest

from ansible_collections.fleet.pki.plugins.module_utils._artifact_exports import (
    converge_exports, export_settings, material, planned_files,
)
from ansible_collections.fleet.pki.plugins.module_utils._c_export import (
    COptions, c_string_literal, default_prefix, der_inc, render, sanitise_identifier, validate_prefix,
)
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError

pytest.importorskip("cryptography")
from firmware_material import DEVICE_IP, Device  # noqa: E402

GCC = shutil.which("gcc")
HAS_LIBSSL = os.path.exists("/usr/include/openssl/x509.h")
HAS_BEARSSL = os.path.exists("/usr/include/bearssl.h")
needs_openssl_build = pytest.mark.skipif(not (GCC and HAS_LIBSSL),
                                         reason="gcc and the OpenSSL headers are needed (apt-get install gcc libssl-dev)")
needs_bearssl_build = pytest.mark.skipif(not (GCC and HAS_BEARSSL),
                                         reason="gcc and BearSSL are needed (apt-get install gcc libbearssl-dev)")


@pytest.fixture
def device(tmp_path):
    return Device(tmp_path)


def files_for(device, **options):
    settings = dict(prefix="esp_07")
    settings.update(options)
    return render(material(device.key_pem, device.cert_pem, device.chain_pem), COptions(**settings), device.host)


# ---------------------------------------------------------------- identifiers, literals, lengths

@pytest.mark.parametrize("text, expected", [
    ("cam-01", "cam_01"),
    ("CAM.01", "cam_01"),
    ("esp 07/β", "esp_07__"),
    ("10.0.0.5", "fleet_10_0_0_5"),
    ("_hidden", "fleet__hidden"),
])
def test_identifiers_are_sanitised(text, expected):
    assert sanitise_identifier(text) == expected
    assert default_prefix(text) == expected
    assert re.fullmatch(r"[a-z][a-z0-9_]*", expected)


@pytest.mark.parametrize("value, reason", [
    ("1cam", "must start with a letter"),
    ("cam-01", "must start with a letter"),
    ("_cam", "must start with a letter"),
    ("", "empty"),
    ("static", "keyword"),
    ("a" * 41, "longer than 40"),
])
def test_an_invalid_prefix_is_refused_naming_the_value(value, reason):
    with pytest.raises(FleetPkiError, match=re.escape(f"fleet_pki_c_prefix '{value}'") + ".*" + reason):
        validate_prefix(value)


def test_an_invalid_prefix_knob_names_the_host():
    with pytest.raises(FleetPkiError, match=r"^host esp-07: fleet_pki_c_prefix '9lives' is not a valid C identifier"):
        export_settings("esp-07", artifact_formats=["c_header"], c_prefix="9lives")


def test_string_literal_escapes_quotes_backslashes_questionmarks_and_control_characters():
    text = 'a"b\\c??=d\te\n'
    literal = c_string_literal(text)
    assert literal == '"a\\"b\\\\c\\?\\?=d\\011e\\n"'
    assert c_string_literal("") == '""'
    with pytest.raises(FleetPkiError, match="not ASCII"):
        c_string_literal("\u20ac")


def test_pem_lengths_follow_the_mbedtls_rule_and_der_lengths_are_exact(device):
    header = files_for(device)["esp_07.h"][0]
    data = material(device.key_pem, device.cert_pem, device.chain_pem)
    for obj, pem in (("cert", device.cert_pem), ("key", device.key_pem), ("ca", device.chain_pem),
                     ("chain", device.chain_pem)):
        assert f"static const size_t esp_07_{obj}_pem_len = {len(pem.encode()) + 1};" in header
    for obj, der in (("cert", data.cert_der), ("key", data.key_der), ("ca", data.ca_der)):
        assert f"static const size_t esp_07_{obj}_der_len = {len(der)};" in header
        array = re.search(rf"esp_07_{obj}_der\[\] = \{{(.*?)\}};", header, re.S).group(1)
        assert bytes(int(value, 16) for value in re.findall(r"0x([0-9A-F]{2})", array)) == der


def test_banner_warns_about_the_key_and_comment_carries_the_certificate_facts(device):
    header = files_for(device)["esp_07.h"][0]
    banner = header.split("*/", 1)[0]
    assert "CONTAINS A PRIVATE KEY - DO NOT COMMIT IT" in banner
    facts = material(device.key_pem, device.cert_pem, device.chain_pem).facts
    assert f"Subject:     CN={device.host}" in banner
    assert f"SANs:        IP:{DEVICE_IP}, DNS:esp-07.plant4.example" in banner
    for key in ("serial", "not_before", "not_after", "fingerprint_sha256"):
        assert facts[key] in banner
    assert "#ifndef FLEET_PKI_ESP_07_H\n#define FLEET_PKI_ESP_07_H\n" in header
    assert header.rstrip().endswith("#endif /* FLEET_PKI_ESP_07_H */")


def test_header_is_deterministic_and_changes_with_the_certificate(device):
    first = files_for(device, source=True, netburner=True, freertos=True, bearssl=True)
    assert files_for(device, source=True, netburner=True, freertos=True, bearssl=True) == first
    device.reissue()
    assert files_for(device, source=True, netburner=True, freertos=True, bearssl=True) != first


def test_source_variant_declares_in_the_header_and_defines_in_the_c_file(device):
    files = files_for(device, source=True)
    header, header_has_key = files["esp_07.h"]
    source, source_has_key = files["esp_07.c"]
    assert not header_has_key and source_has_key
    assert "extern const unsigned char esp_07_key_der[];" in header and "PRIVATE KEY-----" not in header
    assert "The device's PRIVATE KEY is in the matching .c file" in header
    assert '#include "esp_07.h"' in source and "static" not in source.split("*/", 1)[1]
    assert "const unsigned char esp_07_key_der[] = {" in source


def test_header_only_variant_uses_static_const_arrays(device):
    header, has_key = files_for(device)["esp_07.h"]
    assert has_key and "extern const" not in header
    assert "static const unsigned char esp_07_cert_der[] = {" in header
    assert "static const char esp_07_key_pem[] =\n    \"-----BEGIN PRIVATE KEY-----\\n\"" in header


def test_netburner_freertos_and_bearssl_names(device):
    header = files_for(device, netburner=True, freertos=True, bearssl=True)["esp_07.h"][0]
    assert "static const unsigned char comp_cert[] = {" in header and "static const unsigned char comp_key[] = {" in header
    assert f"static const unsigned long comp_cert_len = {len(device.cert_pem)};" in header
    assert f"static const unsigned long comp_key_len = {len(device.key_pem)};" in header
    for macro in ("keyCLIENT_CERTIFICATE_PEM", "keyCLIENT_PRIVATE_KEY_PEM", "keyJITR_DEVICE_CERTIFICATE_AUTHORITY_PEM"):
        assert f"#define {macro} \\\n    \"-----BEGIN" in header
    assert "static const br_x509_trust_anchor esp_07_TAs[] = {" in header and "BR_EC_secp256r1" in header
    assert "#define esp_07_TAs_NUM 1" in header and "static const br_x509_certificate esp_07_CHAIN[]" in header
    plain = files_for(device)["esp_07.h"][0]
    assert "comp_cert" not in plain and "keyCLIENT" not in plain and "br_x509" not in plain


def test_der_inc_is_comma_separated_hex_that_round_trips(device):
    data = material(device.key_pem, device.cert_pem, device.chain_pem).cert_der
    text = der_inc(data)
    assert re.fullmatch(r"((0x[0-9a-f]{2}, )*0x[0-9a-f]{2},\n)+", text)
    assert bytes(int(value, 16) for value in re.findall(r"0x([0-9a-f]{2})", text)) == data


# ---------------------------------------------------------------- files: modes, idempotence, check mode

def test_exports_are_written_with_modes_and_only_when_their_content_changes(device):
    settings = export_settings(device.host, artifact_formats=["pem", "der", "der_inc", "c_header"], c_source=True)
    paths, changed = converge_exports(device.directory, settings, device.chain_pem)
    assert changed == sorted(["cert.der", "key.der", "ca.der", "cert.der.inc", "key.der.inc", "ca.der.inc",
                              "esp_07.h", "esp_07.c"])
    modes = {os.path.basename(path): stat.S_IMODE(os.stat(path).st_mode) for path in paths.values()}
    assert modes == {"cert.der": 0o644, "key.der": 0o600, "ca.der": 0o644, "cert.der.inc": 0o644,
                     "key.der.inc": 0o600, "ca.der.inc": 0o644, "esp_07.h": 0o644, "esp_07.c": 0o600}
    before = {name: device.read(name) for name in modes}
    assert converge_exports(device.directory, settings, device.chain_pem)[1] == []
    assert {name: device.read(name) for name in modes} == before
    os.chmod(device.path("key.der"), 0o644)  # loosened by hand: tightened again
    converge_exports(device.directory, settings, device.chain_pem)
    assert stat.S_IMODE(os.stat(device.path("key.der")).st_mode) == 0o600


def test_check_mode_writes_nothing_and_reports_what_would_change(device):
    settings = export_settings(device.host, artifact_formats=["der", "c_header"])
    _paths, changed = converge_exports(device.directory, settings, device.chain_pem, check_mode=True)
    assert changed == ["ca.der", "cert.der", "esp_07.h", "key.der"]
    assert sorted(os.listdir(device.directory)) == ["cert.pem", "chain.pem", "key.pem"]
    converge_exports(device.directory, settings, device.chain_pem)
    assert converge_exports(device.directory, settings, device.chain_pem, check_mode=True)[1] == []
    assert converge_exports(device.directory, settings, device.chain_pem, check_mode=True, pending=True)[1] == \
        ["ca.der", "cert.der", "esp_07.h", "key.der"]


@pytest.mark.parametrize("knobs, message", [
    (dict(artifact_formats=["pem", "jks"]), "fleet_pki_artifact_formats entry 'jks' is not one of"),
    (dict(artifact_formats="der"), "fleet_pki_artifact_formats must be a list, not the string 'der'"),
    (dict(artifact_formats=["pkcs12"]), "fleet_pki_pkcs12_password is not set"),
    (dict(pkcs12_encryption="strong"), "fleet_pki_pkcs12_encryption 'strong' is not one of compat, modern"),
    (dict(c_source="maybe"), "fleet_pki_c_source 'maybe' is not a boolean"),
])
def test_bad_export_knobs_name_host_and_value(knobs, message):
    with pytest.raises(FleetPkiError) as error:
        export_settings("esp-07", **knobs)
    assert str(error.value).startswith("host esp-07: ") and message in str(error.value)


def test_default_formats_are_pem_and_der_only():
    settings = export_settings("cam-01")
    assert settings.formats == ("pem", "der")
    assert sorted(planned_files(settings).values()) == ["ca.der", "cert.der", "key.der"]
    assert export_settings("cam-01", artifact_formats=["c_header"]).formats == ("pem", "c_header")


# ---------------------------------------------------------------- compiled and run

OPENSSL_PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "@PREFIX@.h"
#define P(name) @PREFIX@_##name

static int failures = 0;
static void check(int ok, const char *what) { printf("%s %s\n", ok ? "ok" : "FAIL", what); if (!ok) failures++; }

static X509 *pem_cert(const char *pem, size_t len) {
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return cert;
}

int main(void) {
    const unsigned char *p = P(cert_der);
    X509 *leaf = d2i_X509(NULL, &p, (long)P(cert_der_len));
    check(leaf != NULL && p == P(cert_der) + P(cert_der_len), "leaf DER parses to its exact length");
    p = P(key_der);
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)P(key_der_len));
    EVP_PKEY *key_der = p8 ? EVP_PKCS82PKEY(p8) : NULL;
    check(key_der != NULL && p == P(key_der) + P(key_der_len), "key DER is PKCS#8 of its exact length");
    p = P(ca_der);
    X509 *ca = d2i_X509(NULL, &p, (long)P(ca_der_len));
    check(ca != NULL, "CA DER parses");

    check(P(cert_pem_len) == strlen(P(cert_pem)) + 1 && P(key_pem_len) == strlen(P(key_pem)) + 1
          && P(ca_pem_len) == strlen(P(ca_pem)) + 1 && P(chain_pem_len) == strlen(P(chain_pem)) + 1,
          "PEM _len = strlen + 1");
#ifdef HEADER_ONLY
    check(sizeof(P(cert_pem)) == P(cert_pem_len) && sizeof(P(key_der)) == P(key_der_len)
          && sizeof(P(cert_der)) == P(cert_der_len), "_len = sizeof");
#endif
    X509 *leaf_pem = pem_cert(P(cert_pem), P(cert_pem_len));
    check(leaf_pem != NULL && leaf != NULL && X509_cmp(leaf, leaf_pem) == 0, "PEM leaf equals DER leaf");
    BIO *bio = BIO_new_mem_buf(P(key_pem), (int)P(key_pem_len));
    EVP_PKEY *key_pem = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    check(key_pem != NULL, "PEM key parses");
    check(leaf && key_der && X509_check_private_key(leaf, key_der) == 1, "DER key matches the certificate");
    check(leaf && key_pem && X509_check_private_key(leaf, key_pem) == 1, "PEM key matches the certificate");

    X509_STORE *store = X509_STORE_new();
    X509 *ca_pem = pem_cert(P(chain_pem), P(chain_pem_len));
    check(ca_pem != NULL && ca != NULL && X509_cmp(ca, ca_pem) == 0, "PEM chain starts with the DER CA");
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, NULL);
    int verified = X509_verify_cert(ctx);
    check(verified == 1, "certificate verifies against the CA from the header");
    if (verified != 1) printf("  %s\n", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    check(leaf && X509_check_ip_asc(leaf, "@IP@", 0) == 1, "certificate carries the device IP SAN @IP@");
    check(leaf && X509_check_ip_asc(leaf, "192.0.2.1", 0) != 1, "certificate does not match another IP");
#ifdef NETBURNER
    check(comp_cert_len == strlen((const char *)comp_cert) && comp_key_len == strlen((const char *)comp_key),
          "NetBurner lengths");
    X509 *nb_cert = pem_cert((const char *)comp_cert, comp_cert_len);
    bio = BIO_new_mem_buf(comp_key, (int)comp_key_len);
    EVP_PKEY *nb_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    check(nb_cert && nb_key && X509_cmp(nb_cert, leaf) == 0 && X509_check_private_key(nb_cert, nb_key) == 1,
          "NetBurner comp_cert and comp_key");
#endif
#ifdef FREERTOS
    const char *client_cert = keyCLIENT_CERTIFICATE_PEM, *client_key = keyCLIENT_PRIVATE_KEY_PEM;
    const char *jitr_ca = keyJITR_DEVICE_CERTIFICATE_AUTHORITY_PEM;
    X509 *rtos_cert = pem_cert(client_cert, strlen(client_cert) + 1);
    bio = BIO_new_mem_buf(client_key, -1);
    EVP_PKEY *rtos_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    X509 *rtos_ca = pem_cert(jitr_ca, strlen(jitr_ca) + 1);
    check(rtos_cert && rtos_key && rtos_ca && X509_cmp(rtos_cert, leaf) == 0
          && X509_check_private_key(rtos_cert, rtos_key) == 1 && X509_cmp(rtos_ca, ca) == 0, "FreeRTOS macros");
#endif
    printf("%s\n", failures ? "FAILED" : "ALL OK");
    return failures ? 1 : 0;
}
"""

NETBURNER_UNIT = r"""
/* A NetBurner application's own declarations, as the NNDK examples write them. */
extern const unsigned char comp_cert[];
extern const unsigned long comp_cert_len;
extern const unsigned char comp_key[];
extern const unsigned long comp_key_len;
unsigned long netburner_total(void) { return comp_cert_len + comp_key_len + comp_cert[0] + comp_key[0]; }
"""


def build_and_run(directory, sources, defines=(), libraries=("-lssl", "-lcrypto")):
    binary = os.path.join(directory, "check")
    command = ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-Wno-unused-const-variable", "-Wno-unused-function",
               "-I", directory, *[f"-D{name}" for name in defines], "-o", binary, *sources, *libraries]
    build = subprocess.run(command, capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([binary], capture_output=True, text=True, check=False)
    return run.returncode, run.stdout + run.stderr


def write_exports(device, **knobs):
    settings = export_settings(device.host, artifact_formats=["pem", "c_header"], **knobs)
    paths, _changed = converge_exports(device.directory, settings, device.chain_pem)
    return paths


@needs_openssl_build
@pytest.mark.parametrize("key_type, ca_key_type", [("ec-p256", "ec-p256"), ("rsa-2048", "rsa-2048")])
@pytest.mark.parametrize("source", [False, True], ids=["header-only", "with-c-file"])
@pytest.mark.parametrize("compat_names", [False, True], ids=["plain", "netburner-freertos"])
def test_header_compiles_and_openssl_accepts_its_material(tmp_path, key_type, ca_key_type, source, compat_names):
    device = Device(tmp_path, key_type=key_type, ca_key_type=ca_key_type)
    paths = write_exports(device, c_source=source, c_netburner=compat_names, c_freertos=compat_names, c_prefix="fw")
    program = os.path.join(device.directory, "main.c")
    with open(program, "w", encoding="ascii") as handle:
        handle.write(OPENSSL_PROGRAM.replace("@PREFIX@", "fw").replace("@IP@", DEVICE_IP))
    sources = [program]
    defines = [] if source else ["HEADER_ONLY"]
    if source:
        sources.append(paths["c_source"])
    if compat_names:
        defines += ["NETBURNER", "FREERTOS"]
        if source:  # the NNDK way: a separate unit declares the names itself and links against the .c
            unit = os.path.join(device.directory, "netburner.c")
            with open(unit, "w", encoding="ascii") as handle:
                handle.write(NETBURNER_UNIT)
            sources.append(unit)
    code, output = build_and_run(device.directory, sources, defines)
    assert code == 0 and output.rstrip().endswith("ALL OK"), output
    assert "FAIL " not in output
    expected = 12 + (0 if source else 1) + (3 if compat_names else 0)
    assert len(re.findall(r"^ok ", output, re.M)) == expected, output


@needs_openssl_build
def test_the_compiled_check_fails_for_a_header_of_another_ca(tmp_path):
    """Negative control: the C check is able to fail (a header whose CA did not sign the certificate)."""
    device = Device(tmp_path / "a")
    other = Device(tmp_path / "b")
    paths = write_exports(device, c_prefix="fw")
    data = material(device.key_pem, device.cert_pem, other.chain_pem)  # the wrong CA
    header, _has_key = render(data, COptions(prefix="fw"), device.host)["fw.h"]
    with open(paths["c_header"], "w", encoding="ascii") as handle:
        handle.write(header)
    program = os.path.join(device.directory, "main.c")
    with open(program, "w", encoding="ascii") as handle:
        handle.write(OPENSSL_PROGRAM.replace("@PREFIX@", "fw").replace("@IP@", DEVICE_IP))
    code, output = build_and_run(device.directory, [program], ["HEADER_ONLY"])
    assert code == 1 and "FAIL certificate verifies against the CA from the header" in output, output


BEARSSL_PROGRAM = r"""
#include <stdio.h>
#include <bearssl.h>
#include "fw.h"

static int validate(const br_x509_trust_anchor *tas, size_t num) {
    br_x509_minimal_context ctx;
    br_x509_minimal_init_full(&ctx, tas, num);
    const br_x509_class **vt = &ctx.vtable;
    (*vt)->start_chain(vt, NULL);
    for (size_t i = 0; i < fw_CHAIN_LEN; i++) {
        (*vt)->start_cert(vt, (uint32_t)fw_CHAIN[i].data_len);
        (*vt)->append(vt, fw_CHAIN[i].data, fw_CHAIN[i].data_len);
        (*vt)->end_cert(vt);
    }
    unsigned err = (*vt)->end_chain(vt);
    unsigned usages = 0;
    const br_x509_pkey *pk = (*vt)->get_pkey(vt, &usages);
    printf("err=%u keytype=%d\n", err, pk ? (int)pk->key_type : -1);
    return (int)err;
}

int main(void) {
    br_x509_trust_anchor none[1];
    int trusted = validate(fw_TAs, fw_TAs_NUM);
    int untrusted = validate(none, 0);
    printf("trusted=%d untrusted=%d\n", trusted, untrusted);
    return (trusted == BR_ERR_OK && untrusted == BR_ERR_X509_NOT_TRUSTED) ? 0 : 1;
}
"""


@needs_bearssl_build
@pytest.mark.parametrize("key_type, ca_key_type, keytype", [("ec-p256", "ec-p256", 2), ("rsa-2048", "rsa-2048", 1),
                                                            ("ec-p256", "rsa-2048", 2)])
@pytest.mark.parametrize("source", [False, True], ids=["header-only", "with-c-file"])
def test_bearssl_trust_anchor_validates_the_leaf_chain(tmp_path, key_type, ca_key_type, keytype, source):
    device = Device(tmp_path, key_type=key_type, ca_key_type=ca_key_type)
    paths = write_exports(device, c_prefix="fw", c_bearssl=True, c_source=source)
    program = os.path.join(device.directory, "main.c")
    with open(program, "w", encoding="ascii") as handle:
        handle.write(BEARSSL_PROGRAM)
    sources = [program] + ([paths["c_source"]] if source else [])
    code, output = build_and_run(device.directory, sources, libraries=("-lbearssl",))
    assert code == 0, output
    assert f"err=0 keytype={keytype}" in output and "trusted=0 untrusted=62" in output, output
