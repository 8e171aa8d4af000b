# Copyright (c) 2026 fleet.pki contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# This file is private to the fleet.pki collection and may change at any time.
"""The fleet report for people: one self-contained HTML page, with the expiry timeline drawn as inline SVG.

No script, no network: inline CSS and SVG only, and a Content-Security-Policy that forbids every fetch and
every script, so the page renders the same offline, from a mail attachment or a file share. Every string
that comes from the inventory, a certificate or an error message goes through escape().
"""

from __future__ import annotations

import datetime
import html

from ansible_collections.fleet.pki.plugins.module_utils._fleet_report import STATUS_LABELS, STATUSES

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
COLOURS = {
    "ok": "#2e7d32", "renew_due": "#c77700", "expired": "#c62828", "revoked": "#6a1b9a", "mismatch": "#d84315",
    "missing": "#ad1457", "unreachable": "#546e7a", "error": "#37474f",
}
ATTENTION = ("revoked", "expired", "mismatch", "missing", "unreachable", "error")
CHART_WIDTH = 1000
LABEL_WIDTH = 190
RIGHT_WIDTH = 90
ROW_HEIGHT = 24
AXIS_HEIGHT = 34

STYLE = """
:root { --fg:#1c2430; --muted:#5f6b7a; --line:#e3e7ee; --bg:#f5f7fa; --card:#fff; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
       color:var(--fg); background:var(--bg); }
header { background:#1f2a3a; color:#fff; padding:20px 32px; }
header h1 { margin:0; font-size:22px; font-weight:600; letter-spacing:.2px; }
header p { margin:4px 0 0; color:#c6d0dd; font-size:13px; }
main { padding:20px 32px 40px; max-width:1500px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:16px 20px; margin:0 0 18px; }
h2 { margin:0 0 12px; font-size:16px; font-weight:600; }
h2 small { color:var(--muted); font-weight:400; margin-left:6px; }
.cards { display:flex; flex-wrap:wrap; gap:12px; background:none; border:0; padding:0; }
.card { background:var(--card); border:1px solid var(--line); border-left:5px solid var(--c); border-radius:8px;
        padding:10px 16px; min-width:120px; }
.card .n { font-size:26px; font-weight:650; color:var(--c); line-height:1.1; }
.card .l { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.6px; }
.card.ca { min-width:280px; }
.card.ca .n { font-size:20px; }
.card.zero .n { color:#b0b8c4; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; text-transform:uppercase; letter-spacing:.5px; color:var(--muted); font-weight:600;
     background:#fafbfc; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tbody tr:hover { background:#f8fafc; }
code, .mono { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace; font-size:12px; }
.serial { word-break:break-all; max-width:170px; display:inline-block; }
.serial.wide { max-width:none; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff; background:var(--c);
         font-size:12px; font-weight:600; white-space:nowrap; }
.muted { color:var(--muted); }
.small { font-size:12px; }
.sans { max-width:260px; }
.notes { max-width:380px; font-size:12px; color:#3b4654; }
.notes ul { margin:0; padding-left:16px; }
.meter { display:inline-block; width:70px; height:8px; background:#e8ecf1; border-radius:4px; vertical-align:middle;
         margin-right:6px; overflow:hidden; }
.meter span { display:block; height:100%; background:var(--c); }
.empty { color:var(--muted); font-style:italic; margin:0; }
svg text { font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif; }
.legend { display:flex; flex-wrap:wrap; gap:14px; font-size:12px; color:var(--muted); margin:8px 0 0; }
.legend i { display:inline-block; width:12px; height:12px; border-radius:2px; background:var(--c); margin-right:5px;
            vertical-align:-2px; }
.pair { display:grid; grid-template-columns:repeat(auto-fit, minmax(460px, 1fr)); gap:0 18px; }
footer { color:var(--muted); font-size:12px; padding:0 32px 24px; }
@media print { body { background:#fff; } section, .card { break-inside:avoid; } header { background:#fff; color:#000; } }
"""


def escape(value):
    """Text for HTML element content and quoted attribute values (also inside inline SVG)."""
    return html.escape("" if value is None else str(value), quote=True)


def _parse(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def days_text(days):
    """'12 days', '1 day', 'expired 3 days ago', '-' (no certificate)."""
    if days is None:
        return "\u2013"
    if days < 0:
        whole = int(-days)
        return "expired today" if whole == 0 else f"expired {whole} day{'s' if whole != 1 else ''} ago"
    whole = int(days)
    if whole == 0:
        hours = int(round(days * 24))
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{whole} day{'s' if whole != 1 else ''}"


def _date(text):
    return text[:10] if text else "\u2013"


def _style_colour(status):
    return f"--c:{COLOURS[status]}"


def _badge(status):
    return f'<span class="badge" style="{_style_colour(status)}">{escape(STATUS_LABELS[status])}</span>'


def render(report):
    """The whole page for a report dict of _fleet_report.build_report()."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Fleet certificate report \u2013 {escape(report['generated_at'])}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        f'<body data-generated-at="{escape(report["generated_at"])}" data-total="{report["total"]}">',
        "<header><h1>Fleet certificate report</h1>",
        f"<p>Generated {escape(report['generated_at'].replace('T', ' ').replace('Z', ' UTC'))} \u00b7 "
        f"{report['total']} host{'s' if report['total'] != 1 else ''} \u00b7 CA {escape(report['ca']['subject'])}"
        + (f" \u00b7 <span class=\"mono\">{escape(report['pki_dir'])}</span>" if report.get("pki_dir") else "")
        + "</p></header>",
        "<main>",
        _cards(report),
        _attention(report),
        '<div class="pair">',
        _renewals(report),
        _revoked(report),
        "</div>",
        _timeline(report),
        _fleet_table(report),
        "</main>",
        "<footer>Written by fleet.pki (<code>playbooks/report.yml</code>). The same data is in "
        "<code>fleet.json</code> and <code>fleet.prom</code> beside this file. "
        'Statuses follow the renewal rules of <code>fleet.pki.certificate</code>.<span id="report-end"></span></footer>',
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _cards(report):
    counts = report["counts"]
    cards = []
    for status in STATUSES:
        zero = " zero" if counts[status] == 0 else ""
        cards.append(f'<div class="card{zero}" style="{_style_colour(status)}" data-status="{status}" '
                     f'data-count="{counts[status]}"><div class="n">{counts[status]}</div>'
                     f'<div class="l">{escape(STATUS_LABELS[status])}</div></div>')
    ca = report["ca"]
    ca_status = "expired" if ca["days_left"] < 0 else "renew_due" if ca["days_left"] < 180 else "ok"
    cards.append(f'<div class="card ca" id="ca" style="{_style_colour(ca_status)}" data-days-left="{ca["days_left"]}" '
                 f'data-not-after="{escape(ca["not_after"])}"><div class="n">{escape(days_text(ca["days_left"]))}</div>'
                 f'<div class="l">CA expires {escape(_date(ca["not_after"]))}</div>'
                 f'<div class="small muted">{escape(ca["subject"])}</div></div>')
    return '<section class="cards" id="summary">' + "".join(cards) + "</section>"


def _notes(entry):
    reasons = list(entry.get("reasons") or [])
    detail = entry.get("detail")
    # A missing certificate's reason repeats the detail ("missing: no certificate on the host"): say it once.
    items = ([detail] if detail and not any(reason.endswith(detail) for reason in reasons) else []) + reasons
    if not items:
        return ""
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"


def _attention(report):
    rows = [entry for status in ATTENTION for entry in report["hosts"] if entry["status"] == status]
    if not rows:
        return ('<section id="attention"><h2>Needs attention</h2><p class="empty">Nothing: every host holds a '
                "current certificate of this CA.</p></section>")
    body = "".join(
        f'<tr data-host="{escape(entry["host"])}" data-status="{entry["status"]}"><td>{escape(entry["host"])}</td>'
        f"<td>{_badge(entry['status'])}</td><td class=\"notes\">{_notes(entry)}</td></tr>"
        for entry in rows)
    return (f'<section id="attention"><h2>Needs attention <small>{len(rows)}</small></h2><table>'
            "<thead><tr><th>Host</th><th>Status</th><th>Why</th></tr></thead>"
            f"<tbody>{body}</tbody></table></section>")


def _renewals(report):
    rows = [entry for entry in report["hosts"] if entry["status"] in ("renew_due", "expired")]
    if not rows:
        return ('<section id="renewals"><h2>Renewals due</h2><p class="empty">None: no certificate is inside its '
                "renew_before window.</p></section>")
    body = "".join(
        f'<tr data-host="{escape(entry["host"])}" data-days-left="{entry["days_left"]}">'
        f"<td>{escape(entry['host'])}</td><td>{_badge(entry['status'])}</td>"
        f"<td class=\"num\">{escape(days_text(entry['days_left']))}</td><td class=\"num\">{escape(_date(entry['not_after']))}</td>"
        f"<td>{escape(entry['renew_before'])}</td><td class=\"num\">{escape(_date(entry['renew_at']))}</td></tr>"
        for entry in rows)
    return (f'<section id="renewals"><h2>Renewals due <small>{len(rows)} \u2013 run playbooks/provision.yml '
            "(or renew.yml) to renew them</small></h2><table><thead><tr><th>Host</th><th>Status</th>"
            '<th class="num">Left</th><th class="num">Expires</th><th>renew_before</th><th class="num">Due since</th></tr></thead>'
            f"<tbody>{body}</tbody></table></section>")


def _revoked(report):
    rows = [entry for entry in report["hosts"] if entry["status"] == "revoked"]
    if not rows:
        return '<section id="revoked"><h2>Revoked</h2><p class="empty">No host holds a revoked certificate.</p></section>'
    body = "".join(
        f'<tr data-host="{escape(entry["host"])}" data-serial="{escape(entry["serial"])}"><td>{escape(entry["host"])}</td>'
        f'<td><code class="serial wide">{escape(entry["serial"])}</code></td><td class="num">{escape(_date(entry["not_after"]))}</td>'
        f"<td class=\"notes\">{_notes(entry)}</td></tr>"
        for entry in rows)
    return (f'<section id="revoked"><h2>Revoked <small>{len(rows)} \u2013 these hosts still hold a revoked '
            'certificate</small></h2><table><thead><tr><th>Host</th><th>Serial</th><th class="num">Expires</th><th>Why</th></tr>'
            f"</thead><tbody>{body}</tbody></table></section>")


def _fleet_table(report):
    rows = []
    for entry in report["hosts"]:
        status = entry["status"]
        percent = entry["lifetime_left_percent"]
        meter = (f'<span class="meter" style="{_style_colour(status)}"><span style="width:{percent:.1f}%"></span></span>'
                 f"{percent:.0f}%" if percent is not None else "\u2013")
        sans = entry["sans"] or entry["addresses"]
        rows.append(
            f'<tr class="host" data-host="{escape(entry["host"])}" data-status="{status}" '
            f'data-days-left="{"" if entry["days_left"] is None else entry["days_left"]}" '
            f'data-serial="{escape(entry["serial"] or "")}" data-not-after="{escape(entry["not_after"] or "")}">'
            f'<td><strong>{escape(entry["host"])}</strong><div class="small muted">{escape(entry["subject"] or "")}</div></td>'
            f"<td>{_badge(status)}</td>"
            f'<td class="num days">{escape(days_text(entry["days_left"]))}</td>'
            f'<td class="num">{escape(_date(entry["not_after"]))}</td>'
            f'<td class="num">{meter}</td>'
            f'<td><code class="serial">{escape(entry["serial"] or chr(0x2013))}</code></td>'
            f'<td class="sans small">{"<br>".join(escape(san) for san in sans) or chr(0x2013)}</td>'
            f'<td class="small">{escape(entry["source"] or chr(0x2013))}</td>'
            f'<td class="notes">{_notes(entry)}</td></tr>')
    body = "".join(rows) or '<tr><td colspan="9" class="empty">No hosts in this report.</td></tr>'
    return ('<section id="fleet"><h2>All hosts <small>soonest expiry first</small></h2><table id="fleet-table">'
            '<thead><tr><th>Host</th><th>Status</th><th class="num">Left</th><th class="num">Expires</th>'
            '<th class="num">Lifetime left</th><th>Serial</th><th>SANs</th><th>Source</th><th>Notes</th></tr></thead>'
            f"<tbody>{body}</tbody></table></section>")


def _ticks(start, end):
    """Dates for the time axis: months (or years) for long spans, days or weeks for short ones."""
    span_days = (end - start).total_seconds() / 86400
    ticks = []
    if span_days > 75:
        step = next(months for months in (1, 2, 3, 6, 12, 24, 60, 120) if span_days / (30.4 * months) <= 8)
        moment = datetime.datetime(start.year, start.month, 1, tzinfo=datetime.timezone.utc)
        while moment <= end:
            if moment >= start and (moment.month - 1) % step == 0:
                ticks.append((moment, moment.strftime("%Y") if step >= 12 else moment.strftime("%b %Y")))
            month = moment.month + 1
            moment = moment.replace(year=moment.year + (month - 1) // 12, month=(month - 1) % 12 + 1)
        return ticks
    step = next(days for days in (1, 2, 7, 14, 28) if span_days / days <= 9)
    moment = datetime.datetime(start.year, start.month, start.day, tzinfo=datetime.timezone.utc)
    while moment <= end:
        if moment >= start:
            ticks.append((moment, moment.strftime("%d %b")))
        moment += datetime.timedelta(days=step)
    return ticks


def _timeline(report):
    """A Gantt-like chart: one row per host, its certificate's validity as a bar, the renewal window hatched."""
    hosts = report["hosts"]
    now = _parse(report["generated_at"])
    held = [entry for entry in hosts if entry["not_after"]]
    if held:
        start = min([now] + [_parse(entry["not_before"]) for entry in held])
        end = max([now] + [_parse(entry["not_after"]) for entry in held])
    else:
        start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
    pad = max((end - start) * 0.03, datetime.timedelta(hours=6))
    start, end = start - pad, end + pad
    plot_left, plot_right = LABEL_WIDTH, CHART_WIDTH - RIGHT_WIDTH
    span = (end - start).total_seconds()

    def x_of(moment):
        return plot_left + (plot_right - plot_left) * (moment - start).total_seconds() / span

    height = AXIS_HEIGHT + ROW_HEIGHT * max(len(hosts), 1) + 8
    out = [f'<svg id="timeline" viewBox="0 0 {CHART_WIDTH} {height}" width="100%" '
           f'role="img" aria-label="Certificate validity per host" data-marks="{len(hosts)}">',
           "<defs>"]
    for status, colour in COLOURS.items():
        out.append(f'<pattern id="hatch-{status}" width="6" height="6" patternUnits="userSpaceOnUse" '
                   f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{colour}" opacity="0.55"/>'
                   '<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2.5"/></pattern>')
    out.append("</defs>")
    bottom = height - 8
    for moment, label in _ticks(start, end):
        x = x_of(moment)
        out.append(f'<line x1="{x:.1f}" y1="{AXIS_HEIGHT - 6}" x2="{x:.1f}" y2="{bottom}" stroke="#e3e7ee"/>'
                   f'<text x="{x:.1f}" y="{AXIS_HEIGHT - 12}" font-size="11" fill="#5f6b7a" text-anchor="middle">'
                   f"{escape(label)}</text>")
    for row, entry in enumerate(hosts):
        y = AXIS_HEIGHT + row * ROW_HEIGHT
        status, colour = entry["status"], COLOURS[entry["status"]]
        name = entry["host"] if len(entry["host"]) <= 26 else entry["host"][:25] + "\u2026"
        out.append(f'<g class="mark" data-host="{escape(entry["host"])}" data-status="{status}" '
                   f'data-days-left="{"" if entry["days_left"] is None else entry["days_left"]}">'
                   f"<title>{escape(entry['host'])}: {escape(STATUS_LABELS[status])}"
                   f"{', expires ' + escape(entry['not_after']) if entry['not_after'] else ''}</title>")
        if row % 2:
            out.append(f'<rect x="0" y="{y}" width="{CHART_WIDTH}" height="{ROW_HEIGHT}" fill="#f7f9fb"/>')
        out.append(f'<text x="{LABEL_WIDTH - 10}" y="{y + 16}" font-size="12" fill="#1c2430" text-anchor="end">'
                   f"{escape(name)}</text>")
        if entry["not_after"]:
            x1, x2 = x_of(_parse(entry["not_before"])), x_of(_parse(entry["not_after"]))
            renew = min(max(x_of(_parse(entry["renew_at"])), x1), x2)
            out.append(f'<rect class="bar" x="{x1:.1f}" y="{y + 5}" width="{max(renew - x1, 0):.1f}" height="14" '
                       f'rx="3" fill="{colour}"/>')
            out.append(f'<rect class="renew-window" x="{renew:.1f}" y="{y + 5}" width="{max(x2 - renew, 3):.1f}" '
                       f'height="14" rx="3" fill="url(#hatch-{status})" stroke="{colour}" stroke-width="1"/>')
            out.append(f'<text x="{min(x2 + 6, plot_right + 4):.1f}" y="{y + 16}" font-size="11" fill="{colour}">'
                       f"{escape(days_text(entry['days_left']))}</text>")
        else:
            out.append(f'<text x="{plot_left + 4}" y="{y + 16}" font-size="11" font-style="italic" fill="{colour}">'
                       f"no certificate data ({escape(STATUS_LABELS[status])})</text>")
        out.append("</g>")
    x_now = x_of(now)
    out.append(f'<line id="now" x1="{x_now:.1f}" y1="{AXIS_HEIGHT - 6}" x2="{x_now:.1f}" y2="{bottom}" '
               'stroke="#1c2430" stroke-width="1.5" stroke-dasharray="4 3"/>')
    out.append(f'<text x="{x_now + 4:.1f}" y="{AXIS_HEIGHT - 24}" font-size="11" font-weight="600" fill="#1c2430">'
               "now</text>")
    ca_end = _parse(report["ca"]["not_after"])
    if start <= ca_end <= end:
        x_ca = x_of(ca_end)
        out.append(f'<line id="ca-expiry" x1="{x_ca:.1f}" y1="{AXIS_HEIGHT - 6}" x2="{x_ca:.1f}" y2="{bottom}" '
                   'stroke="#c62828" stroke-width="2"/>'
                   f'<text x="{x_ca - 4:.1f}" y="{AXIS_HEIGHT - 24}" font-size="11" font-weight="600" fill="#c62828" '
                   'text-anchor="end">CA expires</text>')
    out.append("</svg>")
    legend = "".join(f'<span><i style="{_style_colour(status)}"></i>{escape(STATUS_LABELS[status])}</span>'
                     for status in STATUSES if report["counts"][status])
    note = ("" if start <= ca_end <= end else
            f" The CA expires on {escape(_date(report['ca']['not_after']))}, after the last host certificate.")
    return ('<section id="chart"><h2>Expiry timeline <small>validity of each host\'s certificate; hatched: inside '
            "renew_before</small></h2>" + "".join(out) +
            f'<div class="legend">{legend}<span>dashed line: now.{note}</span></div></section>')
