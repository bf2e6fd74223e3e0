"""Offline Redshift check: record every statement dbt sends for the `redshift` target, check it against rules."""

from patient360.redshift_check.rules import Violation, check_sql, check_statements

__all__ = ["Violation", "check_sql", "check_statements"]
