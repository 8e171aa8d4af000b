# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller side of fleet.pki.trust_anchor.

Reads and checks the CA here (where ``cryptography`` is available), works out the label and the
host-variable defaults, then runs the module of the same name once on the target. On a Windows host
(a PowerShell connection) it runs ansible.windows.win_certificate_store once instead.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.fleet.pki.plugins.module_utils._trust_label import (
    TrustAnchorError,
    ca_label,
    der_to_pem,
    sha256_hex,
    single_certificate_der,
    validate_label,
)
from ansible_collections.fleet.pki.plugins.module_utils._trust_windows import (
    REMOTE_FILE,
    WINDOWS_MODULE,
    windows_module_args,
    windows_result,
)
from ansible_collections.fleet.pki.plugins.module_utils._crypto import NameOID, x509
from ansible_collections.fleet.pki.plugins.plugin_utils._host_knobs import option_or_knob


MODULE = "fleet.pki.trust_anchor"
# Keep in step with plugins/modules/trust_anchor.py; the module decides which are implemented.
TRUST_STORES = ["system", "bundle", "nss", "firefox_policy", "java", "macos", "windows"]

STORES_SPEC = dict(type="list", elements="str", choices=TRUST_STORES)
ARGUMENT_SPEC = dict(
    certificate=dict(type="str"),
    src=dict(type="path"),
    label=dict(type="str"),
    # No default: "not set" means "take the host variable", checked below.
    stores=STORES_SPEC,
    state=dict(type="str", default="present", choices=["present", "absent"]),
    # Paths on the target: the module expands them there, not here.
    bundle_path=dict(type="str"),
    nss_databases=dict(type="list", elements="str"),
    nss_users=dict(type="list", elements="str"),
    firefox_policy_path=dict(type="str"),
    java_keystores=dict(type="list", elements="str", no_log=False),
    # No default here either: unset means the host variable, then the module's default.
    java_keystore_password=dict(type="str", no_log=True),
)

# Host variables that supply a default when the task does not set the option.
HOST_DEFAULTS = dict(stores="fleet_pki_trust_stores", bundle_path="fleet_pki_bundle_path",
                     nss_databases="fleet_pki_nss_databases", nss_users="fleet_pki_nss_users",
                     firefox_policy_path="fleet_pki_firefox_policy_path", java_keystores="fleet_pki_java_keystores",
                     java_keystore_password="fleet_pki_java_keystore_password")


def ca_identity(pem_text):
    """Check that pem_text is one CA certificate; return (der, label_from_the_ca).

    Raises TrustAnchorError with a message for the user.
    """
    der = single_certificate_der(pem_text)
    if x509 is None:
        raise TrustAnchorError("the Python library 'cryptography' is needed on the controller to read the CA certificate")
    try:
        cert = x509.load_der_x509_certificate(der)
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    except ValueError as exc:
        raise TrustAnchorError("not a valid X.509 certificate: %s" % exc)
    if constraints is None or not constraints.ca:
        raise TrustAnchorError(
            "certificate %s is not a CA certificate (BasicConstraints CA:TRUE missing); "
            "install the CA that issued it, not a leaf" % cert.subject.rfc4514_string()
        )
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = names[0].value if names else ""
    return der, ca_label(common_name, der)


class ActionModule(ActionBase):

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        host = task_vars.get("inventory_hostname", "?")

        def fail(message):
            return AnsibleActionFail("%s on host %s: %s" % (MODULE, host, message))

        try:
            dummy, args = self.validate_argument_spec(
                argument_spec=ARGUMENT_SPEC,
                mutually_exclusive=[("certificate", "src")],
                required_one_of=[("certificate", "src")],
            )
        except AnsibleActionFail as exc:
            raise fail(exc.message)

        for option, variable in HOST_DEFAULTS.items():
            if args.get(option) is None:
                args[option] = self._host_default(task_vars, option, variable, fail)
        windows = getattr(self._connection._shell, "SHELL_FAMILY", None) == "powershell"
        stores = args["stores"] if args["stores"] is not None else ["windows" if windows else "system"]
        if windows:
            others = [store for store in stores if store != "windows"]
            if others:
                raise fail("this is a Windows host (a PowerShell connection), where only the store windows applies, "
                           "not %s" % ", ".join(others))
            if not self._shared_loader_obj.module_loader.find_plugin_with_context(WINDOWS_MODULE).resolved:
                raise fail("the store windows runs %s, but the collection ansible.windows is not installed on the "
                           "controller (ansible-galaxy collection install ansible.windows; the ansible package "
                           "includes it)" % WINDOWS_MODULE)
        if "bundle" in stores and not args["bundle_path"]:
            raise fail("store bundle needs bundle_path (or the host variable fleet_pki_bundle_path)")

        if args["label"] is not None:
            try:
                validate_label(args["label"])
            except TrustAnchorError as exc:
                raise fail(str(exc))

        if args["src"] is not None:
            pem_text, origin = self._read_src(args["src"], fail)
        else:
            pem_text, origin = args["certificate"], "certificate"
        try:
            der, label = ca_identity(pem_text)
        except TrustAnchorError as exc:
            raise fail("%s: %s" % (origin, exc))
        if args["label"] is not None:
            label = args["label"]

        if windows:
            result.update(self._run_windows(der, label, args["state"], task_vars, fail))
            return result

        module_args = dict(certificate=der_to_pem(der), label=label, stores=stores, state=args["state"])
        if args["bundle_path"]:
            module_args["bundle_path"] = args["bundle_path"]
        # Unset means the database of the user the module runs as: only the target knows its home.
        # Unset nss_users means no user scope; unset firefox_policy_path means the module's default.
        for option in ("nss_databases", "nss_users", "firefox_policy_path"):
            if args[option] is not None:
                module_args[option] = args[option]
        # Unset means the JDKs found on the target: only the target knows them.
        for option in ("java_keystores", "java_keystore_password"):
            if args[option] is not None:
                module_args[option] = args[option]
        try:
            result.update(self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _run_windows(self, der, label, state, task_vars, fail):
        """One run of ansible.windows.win_certificate_store; the CA travels as a file in the host's temp dir."""
        try:
            remote_path = None
            if state == "present":
                remote_path = self._connection._shell.join_path(self._make_tmp_path(), REMOTE_FILE)
                self._transfer_data(remote_path, der)
            answer = self._execute_module(module_name=WINDOWS_MODULE, task_vars=task_vars,
                                          module_args=windows_module_args(state, der, remote_path))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        if answer.get("failed"):
            raise fail("%s failed: %s" % (WINDOWS_MODULE, answer.get("msg", "no message")))
        return windows_result(label, sha256_hex(der), der, state, bool(answer.get("changed")), self._task.diff)

    def _host_default(self, task_vars, option, variable, fail):
        """The host variable's value for option, validated like the option itself; None when unset."""
        value = option_or_knob({}, task_vars, self._templar, option, variable)
        if value is None:
            return None
        validation = ArgumentSpecValidator({option: ARGUMENT_SPEC[option]}).validate({option: value})
        if validation.error_messages:
            if ARGUMENT_SPEC[option].get("no_log"):
                # A secret: name the variable and its type, never its value.
                raise fail("host variable %s (a %s) is not valid: it must be a string" % (variable, type(value).__name__))
            raise fail("host variable %s=%r is not valid: %s" % (variable, value, "; ".join(validation.error_messages)))
        return validation.validated_parameters[option]

    def _read_src(self, src, fail):
        """Content of the controller file src (searched like copy does), and a name for messages."""
        try:
            path = self._find_needle("files", src)
        except AnsibleError as exc:
            raise fail("src %r not found: %s" % (src, to_native(exc)))
        real = None
        try:
            # get_real_file also decrypts an ansible-vault encrypted file.
            real = self._loader.get_real_file(path, decrypt=True)
            with open(real, "rb") as f:
                data = f.read()
        except (AnsibleError, OSError) as exc:
            raise fail("cannot read src %s: %s" % (path, to_native(exc)))
        finally:
            if real is not None:
                self._loader.cleanup_tmp_file(real)
        return data, "src %s" % path
