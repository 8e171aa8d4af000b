# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.pki.certificate: decide, issue or keep, and deliver one host's certificate.

Runs in the controller's process. The device costs one run of fleet.pki.certificate_files when
nothing changed (it reports what it holds and keeps chain and modes in line), and a second one
only when a new key and certificate have to be installed. When the CA's index lists no valid
certificate for the host (a first provision), nothing on the device can be kept: the certificate
is issued at once and installed in the only run, which also reports what the device held.

With key_location 'device' the controller never has the key: issuing costs three runs (inspect; make a
new key on the device and return its CSR; install the certificate for it), and nothing changed still costs one.
The CSR only contributes its public key, after the CA's policy checked it (_csr_policy).
"""

from __future__ import annotations

import datetime
import os

from ansible_collections.fleet.pki.plugins.module_utils._artifact_exports import EXPORT_KNOBS
from ansible_collections.fleet.pki.plugins.module_utils._artifact_batch import converge_artifacts
from ansible_collections.fleet.pki.plugins.module_utils._authority import ca_paths, load_authority
from ansible_collections.fleet.pki.plugins.module_utils._ca_index import lists_valid, openssl_subject, read_index, revoked_serials
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import held_certificate, public_summary, summary_text, to_pem
from ansible_collections.fleet.pki.plugins.module_utils._csr_policy import check_csr, ignored_warning
from ansible_collections.fleet.pki.plugins.module_utils._device_files import converge
from ansible_collections.fleet.pki.plugins.module_utils._errors import FleetPkiError
from ansible_collections.fleet.pki.plugins.module_utils._host_artifacts import artifact_specs, host_directory
from ansible_collections.fleet.pki.plugins.module_utils._host_settings import host_settings
from ansible_collections.fleet.pki.plugins.module_utils._issuance import check_request, issue, leaf_subject
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key, private_key_pem
from ansible_collections.fleet.pki.plugins.module_utils._names import san_strings
from ansible_collections.fleet.pki.plugins.module_utils._renewal_decision import reasons_to_issue
from ansible_collections.fleet.pki.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.fleet.pki.plugins.plugin_utils._host_knobs import host_knobs, option_or_knob, resolve_pki_dir

DEFAULT_DEST = "/etc/fleet-pki"
FILE_NAMES = {"key": "key.pem", "cert": "cert.pem", "chain": "chain.pem", "fullchain": "fullchain.pem"}

ARGUMENT_SPEC = dict(
    pki_dir=dict(type="path"),
    ip_addresses=dict(type="list", elements="str"),
    dns_names=dict(type="list", elements="str"),
    profile=dict(type="str", choices=["server", "client", "server_client"]),
    key_type=dict(type="str"),
    validity_days=dict(type="int"),
    renew_before=dict(type="str"),
    delivery=dict(type="str", choices=["device", "artifacts"]),
    key_location=dict(type="str", choices=["controller", "device"]),
    ca_passphrase=dict(type="str", no_log=True),
    dest=dict(type="path"),
    key_path=dict(type="path", no_log=False),
    cert_path=dict(type="path"),
    chain_path=dict(type="path"),
    fullchain_path=dict(type="path"),
    owner=dict(type="str"),
    group=dict(type="str"),
    key_mode=dict(type="raw", default="0600"),
    cert_mode=dict(type="raw", default="0644"),
    keep_keys=dict(type="bool", default=False),
)


class ActionModule(ControllerAction):

    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, host, args, task_vars):
        settings = host_settings(host, **host_knobs(task_vars, self._templar, args))
        pki_dir = resolve_pki_dir(option_or_knob(args, task_vars, self._templar, "pki_dir", "fleet_pki_dir"),
                                  task_vars, self._templar)
        if self._task.check_mode and not os.path.exists(ca_paths(pki_dir)[0]):
            return {"changed": True, "reasons": ["missing: the fleet CA does not exist yet"], "issued": False}
        authority = load_authority(pki_dir)
        now = datetime.datetime.now(datetime.timezone.utc)
        authority.refuse_if_expired(now)  # also in check mode, and before an expired CA reaches a kept device's chain

        if settings.delivery == "artifacts":  # the files, and the firmware exports, in <pki_dir>/hosts/<host>/
            knobs = {name: option_or_knob(args, task_vars, self._templar, name) for name in EXPORT_KNOBS}
            return converge_artifacts(authority, [(settings, knobs)], now, lambda: self._ca_key(authority, args, task_vars),
                                      check_mode=self._task.check_mode, diff=self._task.diff)[host]

        target = _DeviceTarget(self, task_vars, self._device_paths(args, task_vars), args, settings.key_location)
        entries = read_index(pki_dir)
        fresh = None  # (certificate, installed files) when issued without asking the device first
        if self._nothing_to_keep(settings, entries, now):
            # The index lists no valid certificate for this host, so whatever the device holds goes: issue now and
            # install in the same (only) module run, which also reports what was there, for the reasons below.
            certificate, key_pem, cert_pem = self._issue_with_new_key(authority, args, task_vars, settings, now, pki_dir)
            installed, previous = target.install(key_pem, cert_pem, authority.pem, report_previous=True)
            fresh = (certificate, installed)
            held_pem, key_state, changed_files, fixed_attributes = previous["certificate"], previous["key_state"], [], []
        else:
            held_pem, key_state, (changed_files, fixed_attributes) = target.inspect(authority.pem)

        held, held_cert = held_certificate(held_pem, key_state, authority.certificate)
        reasons = reasons_to_issue(settings.wanted(), held, now, revoked_serials(entries))
        if fresh and not reasons:  # a valid certificate that the index does not list: the index decides
            reasons = [f"not in the index: index.txt lists no valid certificate for {settings.common_name}"]
        before = public_summary(held_cert)
        outcome = {"changed": bool(changed_files or fixed_attributes), "reasons": reasons, "issued": False,
                   "changed_files": changed_files, "fixed_attributes": fixed_attributes,
                   "delivery": settings.delivery, "paths": target.paths()}
        outcome.update(before)

        if fresh:
            after = public_summary(fresh[0])
            outcome.update(after, changed=True, issued=True, changed_files=fresh[1])
        elif reasons and self._task.check_mode:
            outcome.update(changed=True, sans=san_strings(settings.sans))
            after = {"sans": san_strings(settings.sans), "not_after": "(new)", "serial": "(new)", "fingerprint_sha256": None}
        elif reasons and settings.key_location == "device":
            certificate, installed, warnings = _issue_for_device_key(target, authority, self._ca_key(authority, args, task_vars),
                                                                     settings, now, pki_dir, args["keep_keys"])
            after = public_summary(certificate)
            outcome.update(after, changed=True, issued=True, changed_files=sorted(set(changed_files) | set(installed)))
            if warnings:
                outcome["warnings"] = warnings
        elif reasons:
            certificate, key_pem, cert_pem = self._issue_with_new_key(authority, args, task_vars, settings, now, pki_dir)
            installed = target.install(key_pem, cert_pem, authority.pem)[0]
            after = public_summary(certificate)
            outcome.update(after, changed=True, issued=True, changed_files=sorted(set(changed_files) | set(installed)))
        else:
            after = before

        outcome.update(key_location=settings.key_location, device_runs=target.runs)
        if target.key_backend:
            outcome["device_key_backend"] = target.key_backend
        if self._task.diff and reasons:
            outcome["diff"] = {"before": summary_text(before), "after": summary_text(after),
                               "before_header": f"{host} certificate (held)",
                               "after_header": f"{host} certificate (wanted)"}
        return outcome

    def _ca_key(self, authority, args, task_vars):
        return authority.private_key(option_or_knob(args, task_vars, self._templar, "ca_passphrase"))

    def _nothing_to_keep(self, settings, entries, now):
        """True when the device need not be asked first: a controller-made key for a device, outside check mode, and
        no valid certificate for the host in the index. Saves the first provision one module run per device."""
        return (settings.delivery == "device" and settings.key_location == "controller" and not self._task.check_mode
                and bool(settings.common_name)
                and not lists_valid(entries, openssl_subject(leaf_subject(settings.common_name)), now))

    def _issue_with_new_key(self, authority, args, task_vars, settings, now, pki_dir):
        """A new controller-made key and its certificate for a device: (certificate, key PEM, certificate PEM)."""
        key = generate_private_key(settings.key_type)
        certificate = issue(authority, self._ca_key(authority, args, task_vars), key.public_key(), settings.request(), now)
        key_pem, cert_pem = private_key_pem(key), to_pem(certificate)
        _record_on_controller(pki_dir, settings.host, cert_pem, authority.pem, key_pem if args["keep_keys"] else None)
        return certificate, key_pem, cert_pem

    def _device_paths(self, args, task_vars):
        dest = option_or_knob(args, task_vars, self._templar, "dest") or DEFAULT_DEST
        return {role: args[f"{role}_path"] or os.path.join(dest, FILE_NAMES[role]) for role in FILE_NAMES}


class _DeviceTarget:
    """The host itself, through fleet.pki.certificate_files."""

    def __init__(self, action, task_vars, paths, args, key_location="controller"):
        self._action, self._task_vars, self._paths = action, task_vars, paths
        self._common = {f"{role}_path": path for role, path in paths.items()}
        owner = option_or_knob(args, task_vars, action._templar, "owner")
        group = option_or_knob(args, task_vars, action._templar, "group")
        self._common.update(owner=owner, group=group, key_mode=args["key_mode"], cert_mode=args["cert_mode"],
                            key_location=key_location)
        self.runs = 0  # module runs on the device in this task
        self.key_backend = None  # with key_location 'device': what makes keys there, cryptography or openssl

    def paths(self):
        return dict(self._paths)

    def inspect(self, chain_pem):
        result = self._run(chain_content=chain_pem)
        return (result.get("certificate"), result.get("key_state", "unknown"),
                (result.get("changed_files", []), result.get("fixed_attributes", [])))

    def install(self, key_pem, cert_pem, chain_pem, report_previous=False):
        """Install the files: (changed files, what the device held before when report_previous, else None)."""
        extra = {"report_previous": True} if report_previous else {}
        result = self._run(key_content=key_pem, cert_content=cert_pem, chain_content=chain_pem, **extra)
        return result.get("changed_files", []), result.get("previous")

    def new_device_key(self, key_type, common_name):
        """key_location 'device': the device makes a new (pending) key and returns a CSR for it; the key stays there."""
        csr = self._run(new_key=True, key_type=key_type, common_name=common_name).get("csr")
        if not csr:
            raise FleetPkiError("the device returned no CSR for its new key")
        return csr

    def install_for_device_key(self, cert_pem, chain_pem):
        """key_location 'device': install the certificate for the pending key (the device checks they belong together)."""
        return self._run(cert_content=cert_pem, chain_content=chain_pem).get("changed_files", [])

    def _run(self, **contents):
        module_args = dict(self._common, **contents)
        self.runs += 1
        result = self._action._execute_module(module_name="fleet.pki.certificate_files", module_args=module_args,
                                              task_vars=self._task_vars)
        if result.get("failed") or result.get("unreachable"):
            raise FleetPkiError(f"delivery failed: {result.get('msg', 'no message')}")
        self.key_backend = result.get("key_backend") or self.key_backend
        return result


def _record_on_controller(pki_dir, host, cert_pem, chain_pem, key_pem=None):
    """Keep the public files of every host (and its key only when keep_keys asks for it)."""
    host_directory(pki_dir, host, create=True)
    contents = {"cert": cert_pem, "chain": chain_pem}
    if key_pem:
        contents["key"] = key_pem
    converge(artifact_specs(pki_dir, host), contents)


def _issue_for_device_key(target, authority, ca_key, settings, now, pki_dir, keep_keys):
    """key_location 'device': CSR from the device, checked under the CA's policy, signed, and the certificate installed.

    Returns (certificate, changed files, warnings). The controller never has the key, so nothing can be kept.
    """
    request = settings.request()
    check_request(authority, request)  # refuse before the device makes a key for a certificate that cannot be issued
    csr_pem = target.new_device_key(settings.key_type, settings.common_name)
    public_key, ignored = check_csr(settings.host, csr_pem, request, settings.key_type)
    warnings = [ignored_warning(settings.host, ignored, request)] if ignored else []
    if keep_keys:
        warnings.append(f"host {settings.host}: keep_keys has no effect with key_location 'device': "
                        "the key was made on the device and never left it")
    certificate = issue(authority, ca_key, public_key, request, now)
    cert_pem = to_pem(certificate)
    _record_on_controller(pki_dir, settings.host, cert_pem, authority.pem)
    installed = target.install_for_device_key(cert_pem, authority.pem)
    return certificate, installed, warnings
