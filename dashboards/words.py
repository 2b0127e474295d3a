"""Words the pages show for codes: rule ids, severities, alert states, conditions (English
message ids; the catalog translates them)."""

from __future__ import annotations

RULES = {
    "bp.crisis": "Blood pressure dangerously high",
    "bp.urgent": "Blood pressure above the urgent line",
    "bp.low": "Blood pressure too low",
    "pulse.abnormal": "Pulse out of the safe range",
    "pulse.irregular": "Irregular pulse, repeatedly",
    "glucose.hypo.level1": "Low blood sugar",
    "glucose.hypo.level2": "Blood sugar dangerously low",
    "glucose.hyper.urgent": "Blood sugar very high",
    "glucose.hyper.repeated": "Blood sugar high several times",
    "bp.uncontrolled": "Blood pressure not at target two periods running",
    "glucose.uncontrolled": "Fasting blood sugar not at target two periods running",
    "bp.drift.up": "Blood pressure risen over the personal baseline",
    "adherence.missed": "Not measuring as usual",
    "gateway.offline": "Home gateway offline",
    "quality": "Data-quality problems this week",
}
SEVERITIES = {
    "critical": "Critical",
    "urgent": "Urgent",
    "warning": "Warning",
    "info": "Information",
}
STATES = {
    "open": "Open",
    "notified": "Notified",
    "acknowledged": "Acknowledged",
    "escalated": "Escalated",
    "resolved": "Resolved",
}
CONDITIONS = {"hypertension": "Hypertension", "diabetes": "Diabetes"}
