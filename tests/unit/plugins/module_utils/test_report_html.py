# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.html: escaping of everything inventory-derived, no network references, sorting, one chart mark per host."""

from __future__ import annotations

import datetime
import html.parser
import re

from ansible_collections.fleet.pki.plugins.module_utils._ca_index import read_index
from ansible_collections.fleet.pki.plugins.module_utils._certificate_facts import to_pem
from ansible_collections.fleet.pki.plugins.module_utils._fleet_report import STATUSES, build_report, host_entry
from ansible_collections.fleet.pki.plugins.module_utils._issuance import LeafRequest, issue
from ansible_collections.fleet.pki.plugins.module_utils._key_types import generate_private_key
from ansible_collections.fleet.pki.plugins.module_utils._report_html import days_text, render

NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
EVIL_HOST = '<script>alert("host")</script>'
EVIL_DETAIL = '<img src=x onerror=alert(1)> and "><svg onload=alert(2)>'


class Elements(html.parser.HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(page):
    parser = Elements()
    parser.feed(page)
    return parser


def tag_names(page):
    return {tag for tag, _attrs in parse(page).tags}


def knobs(address, **extra):
    values = dict(ansible_host=address, ip_addresses=None, dns_names=None, profile=None, key_type=None,
                  validity_days=None, renew_before=None, delivery=None, key_location=None)
    values.update(extra)
    return values


def sign(authority, host, address, days):
    key = generate_private_key("ec-p256")
    return issue(authority, authority.private_key(), key.public_key(),
                 LeafRequest(host, (("IP", address),), "server", days), NOW)


def make_report(authority):
    hosts = {
        EVIL_HOST: (sign(authority, EVIL_HOST, "10.0.0.1", 300), "10.0.0.1"),
        "soon": (sign(authority, "soon", "10.0.0.2", 9), "10.0.0.2"),
        "later": (sign(authority, "later", "10.0.0.3", 200), "10.0.0.3"),
        "gone": (sign(authority, "gone", "10.0.0.4", 5), "10.0.0.4"),
    }
    index = read_index(authority.pki_dir)
    entries = [host_entry(name, {"knobs": knobs(address), "certificate": to_pem(cert), "key_state": "matches",
                                 "source": "device", "pki_dir": authority.pki_dir},
                          authority.certificate, index, NOW + 7 * DAY, authority.pki_dir)
               for name, (cert, address) in hosts.items()]
    entries.append(host_entry("broken", {"failed": True, "msg": EVIL_DETAIL, "knobs": knobs("10.0.0.9")},
                              authority.certificate, index, NOW + 7 * DAY, authority.pki_dir))
    entries.append(host_entry("down", {"unreachable": True, "msg": "host down: Connection refused",
                                       "knobs": knobs("10.0.0.10")},
                              authority.certificate, index, NOW + 7 * DAY, authority.pki_dir))
    return build_report(entries, authority.certificate, NOW + 7 * DAY, authority.pki_dir)


def test_inventory_strings_are_escaped_everywhere(authority):
    page = render(make_report(authority))
    parsed = parse(page)
    tags = [tag for tag, _attrs in parsed.tags]
    assert "script" not in tags and "img" not in tags
    assert tags.count("svg") == 1  # only the chart; the injected <svg onload> is text
    assert not [attrs for _tag, attrs in parsed.tags if any(name.startswith("on") for name in attrs)]
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "&lt;script&gt;alert(&quot;host&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    text = "".join(parsed.text)
    assert EVIL_HOST in text and EVIL_DETAIL in text  # shown to people as text, intact
    hosts = [attrs["data-host"] for tag, attrs in parsed.tags if tag == "tr" and "host" in attrs.get("class", "")]
    assert EVIL_HOST in hosts  # attribute values round-trip


def test_no_network_references(authority):
    page = render(make_report(authority))
    assert "http://" not in page and "https://" not in page and "//" not in re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    fetching = {"src", "href", "xlink:href", "action", "formaction", "srcset", "poster", "data", "background"}
    assert not [(tag, attrs) for tag, attrs in parse(page).tags if fetching & set(attrs)]
    assert tag_names(page) <= {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p", "span",
                               "main", "section", "div", "table", "thead", "tbody", "tr", "th", "td", "ul", "li",
                               "strong", "small", "code", "br", "svg", "defs", "pattern", "rect", "line", "g", "text",
                               "i", "footer"}
    assert "@import" not in page and "@font-face" not in page
    patterns = {f"#hatch-{status}" for status in STATUSES}
    assert set(re.findall(r"url\(([^)]*)\)", page)) <= patterns
    csp = [attrs["content"] for tag, attrs in parse(page).tags if tag == "meta" and attrs.get("http-equiv")]
    assert csp and csp[0].startswith("default-src 'none'")
    assert "script-src" not in csp[0]  # default-src 'none' forbids scripts too


def test_table_is_sorted_by_days_left_and_matches_the_report(authority):
    report = make_report(authority)
    parsed = parse(render(report))
    rows = [attrs for tag, attrs in parsed.tags if tag == "tr" and attrs.get("class") == "host"]
    assert [row["data-host"] for row in rows] == ["gone", "soon", "later", EVIL_HOST, "broken", "down"]
    assert [row["data-host"] for row in rows] == [entry["host"] for entry in report["hosts"]]
    days = [float(row["data-days-left"]) for row in rows if row["data-days-left"]]
    assert days == sorted(days) == [-2.0, 2.0, 193.0, 293.0]
    assert {row["data-host"]: row["data-status"] for row in rows} == {
        "gone": "expired", "soon": "renew_due", "later": "ok", EVIL_HOST: "ok", "broken": "error", "down": "unreachable"}
    assert [row["data-serial"] for row in rows] == [entry["serial"] or "" for entry in report["hosts"]]


def test_chart_has_one_mark_per_host_and_a_bar_per_certificate(authority):
    report = make_report(authority)
    parsed = parse(render(report))
    marks = [attrs for tag, attrs in parsed.tags if tag == "g" and attrs.get("class") == "mark"]
    assert [mark["data-host"] for mark in marks] == [entry["host"] for entry in report["hosts"]]
    bars = [attrs for tag, attrs in parsed.tags if tag == "rect" and attrs.get("class") == "bar"]
    assert len(bars) == 4
    svg = [attrs for tag, attrs in parsed.tags if tag == "svg"][0]
    assert svg["data-marks"] == "6"


def test_sections_list_renewals_and_revoked(authority):
    report = make_report(authority)
    page = render(report)
    renewals = page.split('id="renewals"', 1)[1].split("</section>", 1)[0]
    assert 'data-host="soon"' in renewals and 'data-host="gone"' in renewals and 'data-host="later"' not in renewals
    assert "No host holds a revoked certificate" in page.split('id="revoked"', 1)[1].split("</section>", 1)[0]
    report["hosts"][2]["status"] = "revoked"
    report["counts"]["revoked"] += 1
    revoked = render(report).split('id="revoked"', 1)[1].split("</section>", 1)[0]
    assert f'data-serial="{report["hosts"][2]["serial"]}"' in revoked


def test_days_text():
    assert days_text(None) == "\u2013"
    assert days_text(12.7) == "12 days"
    assert days_text(1.2) == "1 day"
    assert days_text(0.5) == "12 hours"
    assert days_text(0.04) == "1 hour"
    assert days_text(-0.3) == "expired today"
    assert days_text(-2.0) == "expired 2 days ago"
