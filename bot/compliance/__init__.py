"""Compliance: is a draft overly promotional (and how to say it compliantly), may a push go out now."""

from bot.compliance.checker import CheckResult, Finding, Span, check_text
from bot.compliance.frequency import PushChannel, PushDecision, check_push

__all__ = ["CheckResult", "Finding", "PushChannel", "PushDecision", "Span", "check_push", "check_text"]
