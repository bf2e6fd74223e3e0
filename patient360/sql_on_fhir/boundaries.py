"""lowBoundary()/highBoundary() of partial dates, dateTimes, times and decimals, as SQL over strings.

The layout keeps dates as strings, so the precision of a value is its length ("1970-06" is a month).
A dateTime without a time zone spans every zone: low is +14:00, high is -12:00 (FHIRPath N1 §5.8).
"""

from __future__ import annotations


def _date(sql: str, low: bool, dialect: str = "duckdb") -> str:
    if low:
        return f"case length({sql}) when 4 then {sql} || '-01-01' when 7 then {sql} || '-01' else {sql} end"
    month_end = (
        f"strftime(last_day(cast({sql} || '-01' as date)), '%Y-%m-%d')" if dialect == "duckdb"
        else f"to_char(last_day(cast({sql} || '-01' as date)), 'YYYY-MM-DD')"
    )
    return f"case length({sql}) when 4 then {sql} || '-12-31' when 7 then {month_end} else {sql} end"


def _time(sql: str, low: bool, dialect: str = "duckdb") -> str:
    minute, second = (":00.000", ".000") if low else (":59.999", ".999")
    return f"case length({sql}) when 5 then {sql} || '{minute}' when 8 then {sql} || '{second}' else {sql} end"


def _date_time(sql: str, low: bool, dialect: str = "duckdb") -> str:
    day_time = "T00:00:00.000+14:00" if low else "T23:59:59.999-12:00"
    return f"case when length({sql}) <= 10 then {_date(sql, low, dialect)} || '{day_time}' else {sql} end"


def _decimal(sql: str, low: bool, dialect: str = "duckdb") -> str:
    # The precision is the number of decimals written; the boundary is half a unit of the last one away.
    decimals = f"cast(length(split_part(cast({sql} as varchar), '.', 2)) as integer)"
    sign = "-" if low else "+"
    return f"round({sql} {sign} 0.5 * power(10, -{decimals}), {decimals} + 1)"


def boundary_sql(sql: str, fhir_type: str, low: bool, dialect: str = "duckdb") -> str | None:
    """SQL of the boundary of ``sql`` (a value of FHIR type ``fhir_type``), None when the type has none."""
    builders = {"date": _date, "dateTime": _date_time, "instant": _date_time, "time": _time, "decimal": _decimal}
    builder = builders.get(fhir_type)
    return builder(sql, low, dialect) if builder else None
