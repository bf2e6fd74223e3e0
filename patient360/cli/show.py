"""`patient360 show`: a few rows of the patient tables (ids shortened; for a person checking a local run)."""

from __future__ import annotations

import argparse

from rich.table import Table

from patient360.cli.output import OK
from patient360.console import make_console
from patient360.duck import scalar
from patient360.settings import Settings
from patient360.warehouse import connect_warehouse, relation_name

SHOWN_MODELS: dict[str, list[str]] = {
    "patient_360": [
        "left(patient_id, 14) as patient", "identity_source", "given_name", "age_years", "allergy_count",
        "active_condition_count", "cast(next_appointment_at as date) as next_visit",
        "round(no_show_rate, 2) as no_show_rate", "active_minutes_last_7_days as active_min_7d",
    ],
    "fct_patient_allergies": [
        "left(patient_id, 8) as patient", "category", "allergen_description", "criticality",
        "allergy_description", "is_anaphylaxis",
    ],
}


def register(sub: argparse._SubParsersAction) -> None:
    show = sub.add_parser("show", help="print a few rows of the patient tables")
    show.add_argument("--limit", type=int, default=5)
    show.set_defaults(handler=show_verb)


def show_verb(args: argparse.Namespace, settings: Settings) -> int:
    show_tables(settings, args.limit)
    return OK


def show_tables(settings: Settings, limit: int) -> None:
    out = make_console(stderr=False, min_width=140)
    with connect_warehouse(settings) as con:
        for model, columns in SHOWN_MODELS.items():
            relation = relation_name(con, model)
            total = scalar(con, f"select count(*) from {relation}")
            rows = con.execute(f"select {', '.join(columns)} from {relation} order by 1 limit {int(limit)}").fetchall()
            table = Table(title=f"{model} ({total} rows)", title_justify="left")
            for column in columns:
                table.add_column(column.split(" as ")[-1], overflow="fold")
            for row in rows:
                table.add_row(*("" if v is None else str(v) for v in row))
            out.print(table)
