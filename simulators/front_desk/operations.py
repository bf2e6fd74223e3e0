"""A front desk at work: a seeded stream of real operations on ``patient_appointment``.

Input is a plain list of patients ``(patient_id, mrn, gender, birth_date, phone)`` (the FHIR
population plugs in here). The desk knows most patients by their FHIR id; a share (``mrn_only_share``)
only by their MRN, and a share of bookings (``unknown_share``) is for people not in the FHIR
population at all (registered at the desk, not yet in HealthLake). Downstream must resolve ids through
``Patient.identifier`` and report what does not resolve, never assume equal ids.

Over simulated business hours the desk books appointments, reschedules them (a primary-key change),
cancels, checks patients in (arrived), closes visits (fulfilled), records no-shows, corrects phone
numbers (all of a patient's rows) and deletes bookings entered in error. Each operation is one
transaction. The simulator keeps its own ground truth (``rows``) of what the table must hold.
Same patients + seed + start: same operations.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import pymysql

from simulators.front_desk.schema import COLUMNS, TABLE

Key = tuple[str, datetime]
Row = dict[str, Any]

DEPARTMENTS = {
    "family-medicine": ("fm-01", "fm-02", "fm-03", "fm-04"),
    "cardiology": ("card-01", "card-02"),
    "pediatrics": ("ped-01", "ped-02"),
    "dermatology": ("derm-01",),
    "orthopedics": ("ortho-01", "ortho-02"),
}
OPENING, CLOSING = time(8, 0), time(17, 0)
DESK_OPENS, DESK_CLOSES = time(7, 30), time(18, 0)
SLOT = timedelta(minutes=15)
NO_SHOW_GRACE = timedelta(minutes=15)
VISIT_LENGTH = timedelta(minutes=40)
OPERATION_WEIGHTS = {
    "book": 0.50, "reschedule": 0.14, "cancel": 0.14, "phone_correction": 0.08, "delete": 0.06,
    "walk_in": 0.08,
}
GENDER_CODES = {
    "male": "M", "female": "F", "other": "O", "unknown": "U", "m": "M", "f": "F", "o": "O", "u": "U",
}


@dataclass(frozen=True)
class FrontDeskPatient:
    """One person the desk may see. Plain values, as the FHIR population hands them over."""

    patient_id: str | None
    mrn: str | None
    gender: str | None
    birth_date: date | None
    phone: str | None


@dataclass(frozen=True)
class Operation:
    kind: str
    at: datetime
    statements: tuple[tuple[str, tuple[Any, ...], int], ...]  # (sql, params, rows it must affect)


@dataclass
class SimulationStats:
    operations: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str) -> None:
        self.operations += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1


def as_patients(records: Iterable[Sequence[Any] | FrontDeskPatient]) -> list[FrontDeskPatient]:
    return [r if isinstance(r, FrontDeskPatient) else FrontDeskPatient(*r) for r in records]


def gender_code(gender: str | None) -> str | None:
    if gender is None:
        return None
    return GENDER_CODES.get(gender.strip().lower(), "U")


def clean_phone(phone: str | None) -> str | None:
    """What the desk types in: digits with an optional leading +, at most 15 characters."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone.split("x")[0])
    return (("+" if phone.strip().startswith("+") else "") + digits)[:15] or None


class FrontDeskSimulator:
    def __init__(
        self,
        patients: Iterable[Sequence[Any] | FrontDeskPatient],
        *,
        seed: int,
        start: datetime,
        mrn_only_share: float = 0.0,
        unknown_share: float = 0.0,
        operations_per_day: int = 300,
    ) -> None:
        people = as_patients(patients)
        if not people:
            raise ValueError("the front desk needs at least one patient")
        for name, share in (("mrn_only_share", mrn_only_share), ("unknown_share", unknown_share)):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {share}")
        if operations_per_day < 1:
            raise ValueError(f"operations_per_day must be positive, got {operations_per_day}")
        self.rng = random.Random(seed)
        self.clock = start.replace(tzinfo=None)
        self.unknown_share = unknown_share
        self.mean_gap = timedelta(hours=10.5) / operations_per_day
        self.rows: dict[Key, Row] = {}
        self.stats = SimulationStats()
        self._unknown_count = 0
        self._open: set[Key] = set()  # booked or arrived: what the clock can still change
        self._no_show: set[Key] = set()  # due, and the patient did not come
        self.desk_patients: list[Row] = []
        for index, person in enumerate(people):
            use_mrn = person.mrn and (not person.patient_id or self.rng.random() < mrn_only_share)
            desk_id = person.mrn if use_mrn else person.patient_id
            if not desk_id:
                raise ValueError(f"patient #{index} has neither a patient_id nor an mrn")
            record = self._desk_record(desk_id, person.gender, person.birth_date, person.phone)
            self.desk_patients.append(record)

    @staticmethod
    def _desk_record(desk_id: str, gender: str | None, birth_date: date | None, phone: str | None) -> Row:
        return {
            "patient_id": desk_id, "gender": gender_code(gender), "date_of_birth": birth_date,
            "phone_number": clean_phone(phone),
        }

    # --- the stream ----------------------------------------------------------------------------

    def history(self, days: int = 90, visits_per_patient: float = 2.0) -> Iterator[Operation]:
        """The past, loaded once like a migration from the previous system: closed appointments."""
        chunk: list[Row] = []
        for person in self.desk_patients:
            for _ in range(self._poisson(visits_per_patient)):
                when = self._slot(self.clock - timedelta(days=self.rng.randint(1, days)))
                key = (person["patient_id"], when)
                if key in self.rows:
                    continue
                status = self.rng.choices(["fulfilled", "noshow", "cancelled"], [0.82, 0.08, 0.10])[0]
                booked = when - timedelta(days=self.rng.randint(1, 30), minutes=self.rng.randint(0, 600))
                row = self._new_row(person, when, booked, status=status)
                row["updated_at"] = when + VISIT_LENGTH
                self.rows[key] = row
                chunk.append(row)
                if len(chunk) == 500:
                    yield self._insert_many(chunk)
                    chunk = []
        if chunk:
            yield self._insert_many(chunk)

    def run(self, *, days: float = 1.0, max_operations: int | None = None) -> Iterator[Operation]:
        """Operations from the simulated clock on, for ``days`` of desk time (or ``max_operations``)."""
        end = self.clock + timedelta(days=days)
        produced = 0
        while self.clock < end and (max_operations is None or produced < max_operations):
            self._advance_clock()
            for operation in [*self._resolve_due(), self._random_operation()]:
                if operation is None:
                    continue
                self.stats.count(operation.kind)
                produced += 1
                yield operation

    # --- time ----------------------------------------------------------------------------------

    def _advance_clock(self) -> None:
        gap = self.rng.expovariate(1.0) * self.mean_gap.total_seconds()
        self.clock += timedelta(seconds=round(gap, 6))
        if self.clock.time() >= DESK_CLOSES:
            self.clock = datetime.combine(self.clock.date() + timedelta(days=1), DESK_OPENS)
        elif self.clock.time() < DESK_OPENS:
            self.clock = datetime.combine(self.clock.date(), DESK_OPENS)

    def _slot(self, day: datetime) -> datetime:
        slots = int((datetime.combine(day.date(), CLOSING) - datetime.combine(day.date(), OPENING)) / SLOT)
        return datetime.combine(day.date(), OPENING) + SLOT * self.rng.randrange(slots)

    def _future_slot(self) -> datetime:
        return self._slot(self.clock + timedelta(days=self.rng.choice([1, 1, 2, 3, 5, 7, 10, 14, 21, 28])))

    def _poisson(self, mean: float) -> int:
        count, threshold, product = 0, pow(2.718281828459045, -mean), self.rng.random()
        while product > threshold:
            count += 1
            product *= self.rng.random()
        return count

    # --- operations --------------------------------------------------------------------------------

    def _resolve_due(self) -> Iterator[Operation]:
        """Booked appointments whose time has come: check-in or no-show; checked-in ones get closed."""
        for key in sorted(self._open):
            row = self.rows[key]
            if row["status"] == "booked" and key[1] <= self.clock:
                if key not in self._no_show and self.rng.random() < 0.12:
                    self._no_show.add(key)
                if key not in self._no_show:
                    yield self._set_status(key, "arrived")
                elif key[1] + NO_SHOW_GRACE <= self.clock:
                    self._no_show.discard(key)
                    yield self._set_status(key, "noshow")
            elif row["status"] == "arrived" and key[1] + VISIT_LENGTH <= self.clock:
                yield self._set_status(key, "fulfilled")

    def _random_operation(self) -> Operation | None:
        kind = self.rng.choices(list(OPERATION_WEIGHTS), list(OPERATION_WEIGHTS.values()))[0]
        future_booked = sorted(
            k for k in self._open if self.rows[k]["status"] == "booked" and k[1] > self.clock
        )
        if kind in ("reschedule", "cancel", "delete") and not future_booked:
            kind = "book"
        if kind == "book":
            return self._book(self._pick_patient(), self._future_slot())
        if kind == "walk_in":
            return self._book(self._pick_patient(), self._slot(self.clock), kind="walk_in")
        if kind == "phone_correction":
            return self._phone_correction()
        key = self.rng.choice(future_booked)
        if kind == "cancel":
            return self._set_status(key, "cancelled")
        if kind == "delete":
            return self._delete(key)
        return self._reschedule(key)

    def _pick_patient(self) -> Row:
        if self.unknown_share and self.rng.random() < self.unknown_share:
            self._unknown_count += 1
            desk_id = f"FD-{self.rng.getrandbits(48):012x}"
            birth = date(1940, 1, 1) + timedelta(days=self.rng.randrange(80 * 365))
            person = self._desk_record(desk_id, self.rng.choice(["male", "female"]), birth, self._new_phone())
            self.desk_patients.append(person)
            return person
        return self.rng.choice(self.desk_patients)

    def _new_phone(self) -> str:
        return f"+1{self.rng.randint(200, 999)}{self.rng.randint(200, 999)}{self.rng.randint(0, 9999):04d}"

    def _new_row(self, person: Row, when: datetime, booked: datetime, status: str = "booked") -> Row:
        department = self.rng.choice(sorted(DEPARTMENTS))
        return {
            **person, "appointment_datetime": when, "status": status,
            "provider_id": self.rng.choice(DEPARTMENTS[department]), "department": department,
            "booked_at": booked, "updated_at": booked,
        }

    def _book(self, person: Row, when: datetime, kind: str = "book") -> Operation | None:
        for _ in range(10):
            if (person["patient_id"], when) not in self.rows:
                break
            when = self._future_slot()
        else:
            return None
        row = self._new_row(person, when, self.clock)
        if kind == "walk_in" and when <= self.clock:
            row["status"] = "arrived"
        self.rows[(person["patient_id"], when)] = row
        self._open.add((person["patient_id"], when))
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        sql = f"insert into {TABLE} ({', '.join(COLUMNS)}) values ({placeholders})"
        return Operation(kind, self.clock, ((sql, tuple(row[c] for c in COLUMNS), 1),))

    def _insert_many(self, rows: list[Row]) -> Operation:
        placeholders = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
        sql = f"insert into {TABLE} ({', '.join(COLUMNS)}) values " + ", ".join([placeholders] * len(rows))
        params = tuple(row[c] for row in rows for c in COLUMNS)
        return Operation("history_load", self.clock, ((sql, params, len(rows)),))

    def _set_status(self, key: Key, status: str) -> Operation:
        row = self.rows[key]
        row["status"], row["updated_at"] = status, self.clock
        if status not in ("booked", "arrived"):
            self._open.discard(key)
        sql = (f"update {TABLE} set status = %s, updated_at = %s "
               "where patient_id = %s and appointment_datetime = %s")
        kind = "cancel" if status == "cancelled" else status
        return Operation(kind, self.clock, ((sql, (status, self.clock, *key), 1),))

    def _delete(self, key: Key) -> Operation:
        del self.rows[key]
        self._open.discard(key)
        sql = f"delete from {TABLE} where patient_id = %s and appointment_datetime = %s"
        return Operation("delete", self.clock, ((sql, key, 1),))

    def _reschedule(self, key: Key) -> Operation | None:
        new_when = self._future_slot()
        if (key[0], new_when) in self.rows or new_when == key[1]:
            return None
        row = self.rows.pop(key)
        row["appointment_datetime"], row["updated_at"] = new_when, self.clock
        self.rows[(key[0], new_when)] = row
        self._open.discard(key)
        self._open.add((key[0], new_when))
        sql = (f"update {TABLE} set appointment_datetime = %s, updated_at = %s "
               "where patient_id = %s and appointment_datetime = %s")
        return Operation("reschedule", self.clock, ((sql, (new_when, self.clock, *key), 1),))

    def _phone_correction(self) -> Operation | None:
        keys = sorted(self.rows)
        if not keys:
            return None
        patient_id = self.rng.choice(keys)[0]
        phone = self._new_phone()
        for person in self.desk_patients:
            if person["patient_id"] == patient_id:
                person["phone_number"] = phone
        touched = [k for k in keys if k[0] == patient_id]
        for k in touched:
            self.rows[k]["phone_number"], self.rows[k]["updated_at"] = phone, self.clock
        sql = f"update {TABLE} set phone_number = %s, updated_at = %s where patient_id = %s"
        params = (phone, self.clock, patient_id)
        return Operation("phone_correction", self.clock, ((sql, params, len(touched)),))


def apply(
    operations: Iterable[Operation], con: pymysql.connections.Connection, *,
    on_applied: Callable[[], None] | None = None,
) -> int:
    """Run each operation as one transaction; a statement that affects other rows than expected stops it.
    ``on_applied`` is called after each commit (a caller's progress bar)."""
    applied = 0
    with con.cursor() as cur:
        for operation in operations:
            try:
                for sql, params, expected in operation.statements:
                    affected = cur.execute(sql, params)
                    if affected != expected:
                        raise RuntimeError(
                            f"{operation.kind} at {operation.at:%Y-%m-%d %H:%M} affected {affected} rows, "
                            f"expected {expected}: the table and the simulator's ground truth disagree"
                        )
                con.commit()
            except BaseException:
                con.rollback()
                raise
            applied += 1
            if on_applied is not None:
                on_applied()
    return applied


def ground_truth_rows(simulator: FrontDeskSimulator) -> list[tuple[Any, ...]]:
    """The table the simulator expects, as sorted tuples in ``COLUMNS`` order."""
    return sorted(tuple(row[c] for c in COLUMNS) for row in simulator.rows.values())
