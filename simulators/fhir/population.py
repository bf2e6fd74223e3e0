"""Synthetic FHIR R4 population: Patients with their allergies, conditions, immunizations, encounters and
vital signs, written as a FHIR bulk export (``<ResourceType>.000.ndjson``).

Seeded and deterministic: the same :class:`PopulationConfig` gives byte-identical NDJSON. Nothing reads the
clock or the global random state:

* names come from Faker's en_US tables with their US frequencies; streets, cities and facilities from pools
  drawn once per run from a ``Faker`` seeded with the config seed (Faker per resource would be too slow);
* every patient has its own ``random.Random`` seeded from ``(seed, patient index)``, so patient ``i`` is the
  same whatever the population size (a population of 100 is the first 100 patients of one of 1000), and
  :func:`iter_patient_ids` gives the ids without generating anything else;
* ids are UUID4s built from that generator, and "today" is ``config.as_of``.

Alongside the resources, :class:`PatientTruth` records what the generator decided (counts, names, dates),
computed from its own choices and never read back from the resources, so tests can check the pipeline
against it.

Resources follow what Synthea writes for US Core (see ``codes``): the MR identifier (v2-0203 "MR"),
US Core race/ethnicity extensions with ``ombCategory`` and ``text``, SNOMED conditions and allergies,
CVX immunizations, LOINC vital signs (heart rate 8867-4, ``/min``) in the ``vital-signs`` category.
"""

from __future__ import annotations

import bisect
import datetime
import functools
import json
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from faker import Faker
from faker.providers.person.en_US import Provider as UsPersonNames

from simulators.fhir import codes as c

RESOURCE_TYPES: tuple[str, ...] = (
    "Patient", "AllergyIntolerance", "Condition", "Encounter", "Immunization", "Observation",
)
BULK_FILE_PATTERN = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)\.(?P<part>\d{3,})\.ndjson$")
COVID_VACCINE_START = datetime.date(2020, 12, 15)
FACILITY_KINDS = ("Medical Center", "Family Practice", "Community Hospital", "Health Clinic", "Urgent Care")
HISTORY_YEARS = 10  # encounters cover at most the last 10 years of each patient's life
MRN_MODULUS = 10**8
DAYS_PER_YEAR = 365.2425

Resource = dict[str, Any]


@dataclass(frozen=True)
class PopulationConfig:
    patients: int = 100
    seed: int = 42
    # "today" of the simulation: the output never depends on the clock.
    as_of: datetime.date = datetime.date(2026, 11, 1)

    def __post_init__(self) -> None:
        if isinstance(self.patients, bool) or not isinstance(self.patients, int) or self.patients < 0:
            raise ValueError(f"PopulationConfig.patients must be an integer >= 0, got {self.patients!r}")
        if self.patients >= MRN_MODULUS:
            raise ValueError(f"PopulationConfig.patients must be below {MRN_MODULUS}, got {self.patients}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"PopulationConfig.seed must be an integer, got {self.seed!r}")
        if isinstance(self.as_of, datetime.datetime) or not isinstance(self.as_of, datetime.date):
            raise ValueError(f"PopulationConfig.as_of must be a datetime.date, got {self.as_of!r}")


@dataclass(frozen=True)
class PatientTruth:
    """What the generator decided for one patient (from its own choices, not read back from resources)."""

    patient_id: str
    mrn: str
    given_name: str  # first given name of the official name
    family_name: str  # family name of the official name
    gender: str
    birth_date: datetime.date
    deceased: bool
    phone: str  # the home phone, ``555-123-4567``
    allergy_count: int
    allergies_without_reaction: int
    allergy_reaction_codings: int  # sum over allergies of max(1, reaction x manifestation x coding rows)
    active_condition_count: int
    immunization_count: int
    last_immunization_date: datetime.date | None
    # Extras.
    deceased_date: datetime.date | None  # set only when the resource carries deceasedDateTime
    name_count: int
    has_prefix: bool
    race: str | None  # text of the US Core race extension (None: no extension)
    ethnicity: str | None
    address_line: str  # first line of the home address
    city: str
    state: str
    postal_code: str
    email: str | None
    condition_count: int
    anaphylaxis_allergy_count: int  # allergies with at least one anaphylaxis manifestation
    encounter_count: int
    emergency_encounter_count: int
    last_encounter_date: datetime.date | None
    observation_count: int
    heart_rate_observation_count: int
    last_heart_rate: int | None  # value of the latest heart-rate observation


@dataclass
class Population:
    """The generated resources and the generator's ground truth.

    Treat the resources as read-only: for speed, identical nested parts (codings, ``meta``, categories,
    the ``subject`` reference) are shared between resources. ``copy.deepcopy`` one before changing it.
    """

    resources: dict[str, list[Resource]]  # resourceType -> FHIR JSON dicts
    ground_truth: dict[str, PatientTruth] = field(default_factory=dict)  # patient id -> truth

    def counts(self) -> dict[str, int]:
        return {rtype: len(items) for rtype, items in self.resources.items()}

    @property
    def resource_total(self) -> int:
        return sum(len(items) for items in self.resources.values())


# --------------------------------------------------------------------------------------------- helpers


def _patient_rng(seed: int, index: int) -> random.Random:
    # A str seed is hashed with SHA-512: stable across processes and Python runs (unlike hash()).
    return random.Random(f"p360-fhir-population:{seed}:{index}")


_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def _uuid(rng: random.Random) -> str:
    """A random (version 4) UUID from ``rng``: same text as ``str(uuid.UUID(int=..., version=4))``."""
    h = f"{(rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _offset(moment: datetime.datetime) -> str:
    # US Eastern-like offset: daylight time from April to October (good enough for synthetic data).
    return "-04:00" if 4 <= moment.month <= 10 else "-05:00"


def _fhir_datetime(moment: datetime.datetime) -> str:
    return moment.isoformat(timespec="seconds") + _offset(moment)


def _age(birth: datetime.date, on: datetime.date) -> float:
    return (on - birth).days / DAYS_PER_YEAR


def _weighted(rng: random.Random, items: tuple[Any, ...], cum_weights: list[float]) -> Any:
    # Same idea as rng.choices(items, cum_weights=...)[0], several times faster.
    return items[bisect.bisect(cum_weights, rng.random() * cum_weights[-1])]


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


# Codings and concepts are cached: resources share these (read-only) dicts, see Population.
@functools.cache
def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


@functools.cache
def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [_coding(system, code, display)], "text": display}


def _ref(resource_type: str, resource_id: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id}"}


_RACE_CUM = _cumulative([r.weight for r in c.RACES])
_MARITAL_CUM = _cumulative([m[2] for m in c.MARITAL_STATUSES])
_UNMARRIED_CUM = _cumulative([0.6, 0.24, 0.16])
_LANGUAGE_CUM = _cumulative([lang[2] for lang in c.LANGUAGES])
_ENCOUNTER_TYPES = tuple(t for t, _ in c.ENCOUNTER_TYPES)
_ENCOUNTER_CUM = _cumulative([w for _, w in c.ENCOUNTER_TYPES])
_GENERAL_EXAM = next(t for t in _ENCOUNTER_TYPES if t.code == "162673000")
_ACUTE_MAX_MIN_AGE = max(cond.min_age for cond in c.ACUTE_CONDITIONS)
_ACUTE_BY_AGE = {
    age: tuple(cond for cond in c.ACUTE_CONDITIONS if age >= cond.min_age)
    for age in range(_ACUTE_MAX_MIN_AGE + 1)
}
_ANAPHYLAXIS = next(m for m in c.MANIFESTATIONS if m.code == c.ANAPHYLAXIS)
_OTHER_MANIFESTATIONS = tuple(m for m in c.MANIFESTATIONS if m.code != c.ANAPHYLAXIS)
_VITAL_SIGNS_CATEGORY = [{
    "coding": [_coding(c.OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")], "text": "Vital Signs",
}]
_MR_TYPE = {"coding": [_coding(c.V2_0203, "MR", "Medical Record Number")], "text": "Medical Record Number"}
_SS_TYPE = {"coding": [_coding(c.V2_0203, "SS", "Social Security Number")], "text": "Social Security Number"}
_PROFILE = {name: {"profile": [c.US_CORE + name]} for name in (
    "us-core-patient", "us-core-allergyintolerance", "us-core-condition-encounter-diagnosis",
    "us-core-condition-problems-health-concerns", "us-core-encounter", "us-core-immunization",
    "us-core-heart-rate", "us-core-blood-pressure", "us-core-body-weight",
)}


@dataclass(frozen=True)
class _WeightedNames:
    """Faker's en_US name table with its US frequencies, drawn from with bisect (much faster than Faker)."""

    names: tuple[str, ...]
    cum_weights: list[float]

    @classmethod
    def of(cls, table: dict[str, float]) -> _WeightedNames:
        return cls(tuple(table), _cumulative(list(table.values())))

    def pick(self, rng: random.Random) -> str:
        return self.names[bisect.bisect(self.cum_weights, rng.random() * self.cum_weights[-1])]


@dataclass(frozen=True)
class _Pools:
    """Names (Faker's weighted tables) and addresses (drawn once per run from a seeded Faker: calling Faker
    per resource is too slow)."""

    male_names: _WeightedNames
    female_names: _WeightedNames
    family_names: _WeightedNames
    streets: tuple[str, ...]
    places: tuple[tuple[str, str, str], ...]  # (city, state, postal code)
    facilities: tuple[str, ...]

    @classmethod
    def draw(cls, seed: int) -> _Pools:
        fake = Faker("en_US")
        fake.seed_instance(seed)
        places = []
        for _ in range(250):
            state = fake.state_abbr(include_territories=False, include_freely_associated_states=False)
            places.append((fake.city(), state, fake.zipcode_in_state(state)))
        return cls(
            male_names=_WeightedNames.of(UsPersonNames.first_names_male),
            female_names=_WeightedNames.of(UsPersonNames.first_names_female),
            family_names=_WeightedNames.of(UsPersonNames.last_names),
            streets=tuple(fake.street_name() for _ in range(500)),
            places=tuple(places),
            facilities=tuple(f"{fake.last_name()} {kind}" for kind in FACILITY_KINDS for _ in range(4)),
        )


def _mrn_permutation(seed: int) -> tuple[int, int]:
    """(a, b) so that index -> (a * index + b) mod 1e8 is a bijection: distinct MRNs, random-looking."""
    rng = random.Random(f"p360-fhir-mrn:{seed}")
    a = rng.randrange(1, MRN_MODULUS)
    while a % 2 == 0 or a % 5 == 0:
        a = rng.randrange(1, MRN_MODULUS)
    return a, rng.randrange(MRN_MODULUS)


# ------------------------------------------------------------------------------------------ generator


class _PatientBuilder:
    """Builds one patient and everything attached to it from the patient's own generator."""

    def __init__(self, config: PopulationConfig, pools: _Pools, index: int, mrn_number: int) -> None:
        self.config = config
        self.pools = pools
        self.rng = _patient_rng(config.seed, index)
        self.patient_id = _uuid(self.rng)  # first draw: iter_patient_ids relies on it
        self.mrn = f"M{mrn_number:08d}"
        self.subject = _ref("Patient", self.patient_id)
        self.out: dict[str, list[Resource]] = {rtype: [] for rtype in RESOURCE_TYPES}

    # -- patient ------------------------------------------------------------------------------------

    def build(self) -> tuple[dict[str, list[Resource]], PatientTruth]:
        rng, as_of = self.rng, self.config.as_of
        gender = _weighted(rng, ("male", "female", "other", "unknown"), [0.49, 0.98, 0.99, 1.0])
        age_days = rng.randrange(1, int(96 * DAYS_PER_YEAR))
        self.birth = as_of - datetime.timedelta(days=age_days)
        age = age_days / DAYS_PER_YEAR
        death_probability = 0.025 if age < 40 else 0.09 if age < 70 else 0.28
        self.death: datetime.date | None = None
        if rng.random() < death_probability:
            lived = max(1, int(age_days * rng.uniform(0.55, 1.0)) - 1)
            self.death = self.birth + datetime.timedelta(days=min(lived, age_days - 1) or 1)
        self.end = self.death or as_of  # last day the patient can be seen (exclusive)
        self.start = max(self.birth, self.end - datetime.timedelta(days=int(HISTORY_YEARS * DAYS_PER_YEAR)))

        patient, facts = self._patient_resource(gender, age)
        self.out["Patient"].append(patient)
        encounters = self._encounters()
        chronic = self._chronic_conditions(encounters)
        conditions_active, condition_count = self._conditions(encounters, chronic)
        heart_rates, observation_count = self._vital_signs(encounters, chronic)
        immunization_dates = self._immunizations(encounters)
        allergy_facts = self._allergies()

        truth = PatientTruth(
            patient_id=self.patient_id,
            mrn=self.mrn,
            **facts,
            birth_date=self.birth,
            deceased=self.death is not None,
            allergy_count=allergy_facts[0],
            allergies_without_reaction=allergy_facts[1],
            allergy_reaction_codings=allergy_facts[2],
            anaphylaxis_allergy_count=allergy_facts[3],
            active_condition_count=conditions_active,
            condition_count=condition_count,
            immunization_count=len(immunization_dates),
            last_immunization_date=max(immunization_dates) if immunization_dates else None,
            encounter_count=len(encounters),
            emergency_encounter_count=sum(1 for e in encounters if e.kind.class_code == "EMER"),
            last_encounter_date=encounters[-1].start.date() if encounters else None,
            observation_count=observation_count,
            heart_rate_observation_count=len(heart_rates),
            last_heart_rate=_latest(heart_rates),
        )
        return self.out, truth

    def _patient_resource(self, gender: str, age: float) -> tuple[Resource, dict[str, Any]]:
        """The Patient resource and the facts the tests check it against (random draws in a fixed order)."""
        rng = self.rng
        adult = age >= 18
        names, given, family, has_prefix, married = self._names(gender, adult)
        telecom, phone, email = self._telecom(adult, given, family)
        address = self._address()
        extensions, race_text, ethnicity_text = self._extensions(gender)
        ssn = f"999-{rng.randrange(10, 100)}-{rng.randrange(10000):04d}"
        patient: Resource = {
            "resourceType": "Patient",
            "id": self.patient_id,
            "meta": _PROFILE["us-core-patient"],
            "extension": extensions,
            "identifier": [
                {"system": c.PATIENT_ID_SYSTEM, "value": self.patient_id},
                {"type": _MR_TYPE, "system": c.MRN_SYSTEM, "value": self.mrn},
                {"type": _SS_TYPE, "system": c.SSN_SYSTEM, "value": ssn},
            ],
            "name": names,
            "telecom": telecom,
            "gender": gender,
            "birthDate": self.birth.isoformat(),
        }
        deceased_date = self._deceased(patient)
        patient["address"] = [address]
        if adult:
            status = "M" if married else _weighted(rng, c.MARITAL_STATUSES[1:], _UNMARRIED_CUM)[0]
            display = next(m[1] for m in c.MARITAL_STATUSES if m[0] == status)
            patient["maritalStatus"] = _concept(c.V3_MARITAL, status, display)
        language = _weighted(rng, c.LANGUAGES, _LANGUAGE_CUM)
        patient["communication"] = [{"language": _concept(c.BCP47, language[0], language[1])}]

        facts = {
            "given_name": given, "family_name": family, "gender": gender, "phone": phone,
            "deceased_date": deceased_date, "name_count": len(names), "has_prefix": has_prefix,
            "race": race_text, "ethnicity": ethnicity_text, "address_line": address["line"][0],
            "city": address["city"], "state": address["state"], "postal_code": address["postalCode"], "email": email,
        }
        return patient, facts

    def _names(self, gender: str, adult: bool) -> tuple[list[Resource], str, str, bool, bool]:
        """(names, given, family, has a prefix, married)."""
        rng, pools = self.rng, self.pools
        if gender in ("male", "female"):
            first_pool = pools.male_names if gender == "male" else pools.female_names
        else:
            first_pool = rng.choice((pools.male_names, pools.female_names))
        given = first_pool.pick(rng)
        family = pools.family_names.pick(rng)
        given_names = [given, first_pool.pick(rng)] if rng.random() < 0.45 else [given]
        official: Resource = {"use": "official", "family": family, "given": given_names}
        has_prefix = adult and rng.random() < 0.5
        married = adult and _weighted(rng, c.MARITAL_STATUSES, _MARITAL_CUM)[0] == "M"
        if has_prefix:
            official["prefix"] = [self._prefix(gender, married)]
        if gender == "male" and adult and rng.random() < 0.03:
            official["suffix"] = [rng.choice(("Jr.", "Sr.", "III", "PhD"))]
        names = [official]
        if gender == "female" and married and rng.random() < 0.7:
            names.append({"use": "maiden", "family": pools.family_names.pick(rng), "given": given_names})
        elif rng.random() < 0.2:
            if given in c.NICKNAMES:
                names.append({"use": "nickname", "family": family, "given": [c.NICKNAMES[given]]})
            elif len(given_names) > 1:  # goes by the middle name
                names.append({"use": "usual", "family": family, "given": [given_names[1]]})
        return names, given, family, has_prefix, married

    def _prefix(self, gender: str, married: bool) -> str:
        if self.rng.random() < 0.05:
            return "Dr."
        return {"male": "Mr.", "female": "Mrs." if married else "Ms."}.get(gender, "Mx.")

    def _telecom(self, adult: bool, given: str, family: str) -> tuple[list[Resource], str, str | None]:
        """(telecom, home phone, email or None)."""
        rng = self.rng
        phone = f"555-{rng.randrange(200, 1000)}-{rng.randrange(10000):04d}"
        telecom: list[Resource] = [{"system": "phone", "value": phone, "use": "home"}]
        if rng.random() < 0.25:
            mobile = f"555-{rng.randrange(200, 1000)}-{rng.randrange(10000):04d}"
            telecom.append({"system": "phone", "value": mobile, "use": "mobile"})
        email = None
        if adult and rng.random() < 0.35:
            domain = rng.choice(("example.com", "example.org", "example.net"))
            email = f"{given.lower()}.{family.lower()}{rng.randrange(100)}@{domain}".replace(" ", "")
            telecom.append({"system": "email", "value": email, "use": "home"})
        return telecom, phone, email

    def _address(self) -> Resource:
        rng = self.rng
        city, state, postal_code = rng.choice(self.pools.places)
        lines = [f"{rng.randrange(1, 10000)} {rng.choice(self.pools.streets)}"]
        if rng.random() < 0.15:
            lines.append(f"Apt {rng.randrange(1, 400)}")
        return {"use": "home", "line": lines, "city": city, "state": state, "postalCode": postal_code,
                "country": "US"}

    def _extensions(self, gender: str) -> tuple[list[Resource], str | None, str | None]:
        """US Core race, ethnicity and birth sex: (extensions, race text, ethnicity text)."""
        rng = self.rng
        extensions: list[Resource] = []
        race_text = ethnicity_text = None
        if rng.random() < 0.96:
            race = _weighted(rng, c.RACES, _RACE_CUM)
            race_text = race.display
            extensions.append({"url": c.US_CORE_RACE, "extension": [
                {"url": "ombCategory", "valueCoding": _coding(c.OMB, race.code, race.display)},
                {"url": "text", "valueString": race.display},
            ]})
        if rng.random() < 0.95:
            ethnicity = c.HISPANIC if rng.random() < 0.18 else c.NOT_HISPANIC
            ethnicity_text = ethnicity.display
            extensions.append({"url": c.US_CORE_ETHNICITY, "extension": [
                {"url": "ombCategory", "valueCoding": _coding(c.OMB, ethnicity.code, ethnicity.display)},
                {"url": "text", "valueString": ethnicity.display},
            ]})
        birth_sex = {"male": "M", "female": "F"}.get(gender) or rng.choice(("M", "F", "UNK"))
        extensions.append({"url": c.US_CORE_BIRTHSEX, "valueCode": birth_sex})
        return extensions, race_text, ethnicity_text

    def _deceased(self, patient: Resource) -> datetime.date | None:
        """Death as FHIR says it (a time, or only a flag); the date the tests expect, if any."""
        rng = self.rng
        if self.death is not None:
            if rng.random() < 0.75:
                clock = datetime.time(rng.randrange(24), rng.randrange(60))
                patient["deceasedDateTime"] = _fhir_datetime(datetime.datetime.combine(self.death, clock))
                return self.death
            patient["deceasedBoolean"] = True
        elif rng.random() < 0.3:
            patient["deceasedBoolean"] = False
        return None

    # -- encounters ---------------------------------------------------------------------------------

    def _encounters(self) -> list[_Encounter]:
        rng = self.rng
        window = (self.end - self.start).days
        if window < 1 or rng.random() < 0.03:
            return []
        age_at_end = _age(self.birth, self.end)
        count = rng.randint(1, 8) + (rng.randint(0, 6) if age_at_end >= 60 else 0)
        count = min(count, 1 + window // 45)
        rand = rng.random  # int(rand() * n) instead of randrange(n) in the hot loops: several times faster
        days = sorted(int(rand() * window) for _ in range(count))
        pool = self.pools.facilities
        clinic = {"display": rng.choice(pool)}  # the patient's usual practice
        last_moment = datetime.datetime.combine(self.end, datetime.time()) - datetime.timedelta(minutes=1)
        visits = []
        for day in days:
            date = self.start + datetime.timedelta(days=day)
            age = _age(self.birth, date)
            kind = _weighted(rng, _ENCOUNTER_TYPES, _ENCOUNTER_CUM)
            if age > kind.max_age:
                kind = _GENERAL_EXAM
            if kind.class_code == "AMB":
                clock = datetime.time(8 + int(rand() * 10), 5 * int(rand() * 12))
                start = datetime.datetime.combine(date, clock)
                end = start + datetime.timedelta(minutes=15 + 5 * int(rand() * 10))
            elif kind.class_code == "EMER":
                start = datetime.datetime.combine(date, datetime.time(rng.randrange(24), rng.randrange(60)))
                end = start + datetime.timedelta(minutes=rng.randrange(60, 8 * 60))
            else:
                start = datetime.datetime.combine(date, datetime.time(rng.randrange(24), rng.randrange(60)))
                days_left = (self.end - date).days
                end = start + datetime.timedelta(days=rng.randint(0, max(0, min(6, days_left - 1))),
                                                 hours=rng.randrange(2, 12))
            if end >= last_moment:  # a stay never runs into the day of death (or "today")
                end = last_moment
                start = min(start, end - datetime.timedelta(minutes=30))
            visits.append((start, end, kind, age))
        visits.sort(key=lambda visit: visit[0])  # two visits on one day: by time
        encounters = []
        for start, end, kind, age in visits:
            encounter = _Encounter(_uuid(rng), kind, start, end, age)
            encounter.resource = {
                "resourceType": "Encounter",
                "id": encounter.id,
                "meta": _PROFILE["us-core-encounter"],
                "identifier": [{"use": "official", "system": c.ENCOUNTER_ID_SYSTEM, "value": encounter.id}],
                "status": "finished",
                "class": {"system": c.V3_ACT_CODE, "code": kind.class_code, "display": kind.class_display},
                "type": [_concept(c.SNOMED, kind.code, kind.display)],
                "subject": self.subject,
                "period": {"start": _fhir_datetime(start), "end": _fhir_datetime(end)},
                "serviceProvider": clinic if kind.class_code == "AMB" else {"display": rng.choice(pool)},
            }
            self.out["Encounter"].append(encounter.resource)
            encounters.append(encounter)
        return encounters

    # -- conditions ---------------------------------------------------------------------------------

    def _chronic_conditions(self, encounters: list[_Encounter]) -> dict[str, tuple[int, c.ConditionCode]]:
        """code -> (index of the onset encounter, condition)."""
        rng = self.rng
        chosen: dict[str, tuple[int, c.ConditionCode]] = {}
        if not encounters:
            return chosen
        final_age = encounters[-1].age
        for condition in c.CHRONIC_CONDITIONS:
            if final_age < condition.min_age:
                continue
            if rng.random() < 0.03 + 0.004 * (final_age - condition.min_age):
                eligible = [i for i, e in enumerate(encounters) if e.age >= condition.min_age]
                chosen[condition.code] = (rng.choice(eligible), condition)
        return chosen

    def _conditions(
        self, encounters: list[_Encounter], chronic: dict[str, tuple[int, c.ConditionCode]]
    ) -> tuple[int, int]:
        rng = self.rng
        active = count = 0
        end_moment = datetime.datetime.combine(self.end, datetime.time())
        planned: list[tuple[int, c.ConditionCode]] = sorted(chronic.values(), key=lambda item: item[0])
        for index, encounter in enumerate(encounters):
            if encounter.kind.kind == "problem" and rng.random() < 0.75:
                eligible = _ACUTE_BY_AGE[min(int(encounter.age), _ACUTE_MAX_MIN_AGE)]
                planned.append((index, rng.choice(eligible)))
        planned.sort(key=lambda item: item[0])
        for index, condition in planned:
            encounter = encounters[index]
            onset = encounter.start
            if condition.chronic:
                resolved = rng.random() < 0.15
                abatement = onset + datetime.timedelta(days=rng.randrange(30, 3 * 365))
            else:
                abatement = onset + datetime.timedelta(days=rng.randrange(5, 40))
                resolved = True
            if abatement >= end_moment:
                resolved = False
            status = "resolved" if resolved else "active"
            if condition.chronic:
                category = ("problem-list-item", "Problem List Item")
                profile = "us-core-condition-problems-health-concerns"
            else:
                category = ("encounter-diagnosis", "Encounter Diagnosis")
                profile = "us-core-condition-encounter-diagnosis"
            resource: Resource = {
                "resourceType": "Condition",
                "id": _uuid(rng),
                "meta": _PROFILE[profile],
                "clinicalStatus": {"coding": [{"system": c.CONDITION_CLINICAL, "code": status}]},
                "verificationStatus": {"coding": [{"system": c.CONDITION_VERIFICATION, "code": "confirmed"}]},
                "category": [{"coding": [_coding(c.CONDITION_CATEGORY, *category)]}],
                "code": _concept(c.SNOMED, condition.code, condition.display),
                "subject": self.subject,
                "encounter": _ref("Encounter", encounter.id),
                "onsetDateTime": _fhir_datetime(onset),
            }
            if resolved:
                resource["abatementDateTime"] = _fhir_datetime(abatement)
            resource["recordedDate"] = _fhir_datetime(onset)
            self.out["Condition"].append(resource)
            if not condition.chronic:
                encounter.resource["reasonCode"] = [_concept(c.SNOMED, condition.code, condition.display)]
            count += 1
            active += not resolved
        return active, count

    # -- observations -------------------------------------------------------------------------------

    def _vital_signs(
        self, encounters: list[_Encounter], chronic: dict[str, tuple[int, c.ConditionCode]]
    ) -> tuple[list[tuple[datetime.datetime, int]], int]:
        """((time, value) of each heart rate, observation count)."""
        rng = self.rng
        heart_rates: list[tuple[datetime.datetime, int]] = []
        count = 0
        hypertension_from = chronic["59621000"][0] if "59621000" in chronic else None
        weight_base = rng.gauss(0, 1)  # the patient's build: heavy or light for the age, kept across visits
        for index, encounter in enumerate(encounters):
            age = encounter.age
            taken = encounter.start + datetime.timedelta(minutes=1 + int(rng.random() * 9))
            when = _fhir_datetime(taken)
            encounter_ref = _ref("Encounter", encounter.id)
            acute = encounter.kind.class_code != "AMB"
            if acute or rng.random() < 0.95:
                if age < 1:
                    rate = rng.randint(100, 160)
                elif age < 6:
                    rate = rng.randint(80, 130)
                elif age < 13:
                    rate = rng.randint(70, 110)
                else:
                    rate = int(min(150, max(42, rng.gauss(74, 11))))
                if acute:
                    rate += rng.randint(0, 25)
                heart_rates.append((taken, rate))
                self.out["Observation"].append(self._observation(
                    "us-core-heart-rate", c.HEART_RATE, encounter_ref, when,
                    {"valueQuantity": {"value": rate, "unit": "/min", "system": c.UCUM, "code": "/min"}},
                ))
                count += 1
            if age >= 3 and rng.random() < 0.85:
                hypertensive = hypertension_from is not None and index >= hypertension_from
                systolic = int(rng.gauss(138 if hypertensive else 116, 12) - (20 if age < 13 else 0))
                diastolic = int(systolic * rng.uniform(0.58, 0.7))
                self.out["Observation"].append(self._observation(
                    "us-core-blood-pressure", c.BLOOD_PRESSURE, encounter_ref, when,
                    {"component": [
                        {"code": _concept(c.LOINC, *c.SYSTOLIC), "valueQuantity": _mmhg(systolic)},
                        {"code": _concept(c.LOINC, *c.DIASTOLIC), "valueQuantity": _mmhg(diastolic)},
                    ]},
                ))
                count += 1
            if rng.random() < 0.75:
                expected = 3.5 + 2.8 * age if age < 16 else 78.0
                weight = round(max(2.0, expected * (1 + 0.18 * weight_base) + rng.gauss(0, 1.5)), 1)
                self.out["Observation"].append(self._observation(
                    "us-core-body-weight", c.BODY_WEIGHT, encounter_ref, when,
                    {"valueQuantity": {"value": weight, "unit": "kg", "system": c.UCUM, "code": "kg"}},
                ))
                count += 1
        return heart_rates, count

    def _observation(
        self, profile: str, code: c.Code, encounter_ref: dict[str, str], when: str, value: Resource
    ) -> Resource:
        resource: Resource = {
            "resourceType": "Observation",
            "id": _uuid(self.rng),
            "meta": _PROFILE[profile],
            "status": "final",
            "category": _VITAL_SIGNS_CATEGORY,
            "code": _concept(c.LOINC, code.code, code.display),
            "subject": self.subject,
            "encounter": encounter_ref,
            "effectiveDateTime": when,
            "issued": when[:19] + ".000" + when[19:],
        }
        resource.update(value)
        return resource

    # -- immunizations ------------------------------------------------------------------------------

    def _immunizations(self, encounters: list[_Encounter]) -> list[datetime.date]:
        rng = self.rng
        dates: list[datetime.date] = []
        for encounter in encounters:
            if encounter.kind.kind not in ("wellness", "vaccine"):
                continue
            age, date = encounter.age, encounter.start.date()
            vaccine_visit = encounter.kind.kind == "vaccine"
            given = [v for v in _vaccines_for_age(age) if rng.random() < v.probability]
            if age >= c.FLU.min_age and rng.random() < (0.9 if vaccine_visit else c.FLU.probability):
                given.append(c.FLU)
            if date >= COVID_VACCINE_START and age >= c.COVID.min_age and rng.random() < c.COVID.probability:
                given.append(c.COVID)
            if vaccine_visit and not given:
                given = [c.FLU if age >= c.FLU.min_age else c.VACCINES[0]]
            when = _fhir_datetime(encounter.start + datetime.timedelta(minutes=rng.randrange(5, 15)))
            for vaccine in given:
                self.out["Immunization"].append({
                    "resourceType": "Immunization",
                    "id": _uuid(rng),
                    "meta": _PROFILE["us-core-immunization"],
                    "status": "completed",
                    "vaccineCode": _concept(c.CVX, vaccine.code, vaccine.display),
                    "patient": self.subject,
                    "encounter": _ref("Encounter", encounter.id),
                    "occurrenceDateTime": when,
                    "primarySource": True,
                })
                dates.append(date)
        return dates

    # -- allergies ----------------------------------------------------------------------------------

    def _allergies(self) -> tuple[int, int, int, int]:
        """(allergies, allergies without reaction, reaction coding rows, allergies with anaphylaxis)."""
        rng = self.rng
        count = _weighted(rng, (0, 1, 2, 3), [0.55, 0.83, 0.95, 1.0])
        without_reaction = coding_rows = anaphylactic = 0
        span = max(1, (self.end - self.birth).days)
        for substance in rng.sample(c.ALLERGY_SUBSTANCES, count):
            criticality = _weighted(rng, ("low", "high", "unable-to-assess", None), [0.55, 0.75, 0.83, 1.0])
            recorded = datetime.datetime.combine(
                self.birth + datetime.timedelta(days=rng.randrange(span)),
                datetime.time(rng.randrange(8, 18), rng.randrange(60)),
            )
            clinical = _weighted(rng, ("active", "inactive", "resolved"), [0.9, 0.97, 1.0])
            verification = "confirmed" if rng.random() < 0.85 else "unconfirmed"
            medication = substance.category == "medication"
            resource: Resource = {
                "resourceType": "AllergyIntolerance",
                "id": _uuid(rng),
                "meta": _PROFILE["us-core-allergyintolerance"],
                "clinicalStatus": {"coding": [{"system": c.ALLERGY_CLINICAL, "code": clinical}]},
                "verificationStatus": {"coding": [{"system": c.ALLERGY_VERIFICATION, "code": verification}]},
                "type": "intolerance" if medication and rng.random() < 0.4 else "allergy",
            }
            if rng.random() < 0.88:
                resource["category"] = [substance.category]
            if criticality is not None:
                resource["criticality"] = criticality
            resource["code"] = _concept(substance.system, substance.code, substance.display)
            resource["patient"] = self.subject
            resource["recordedDate"] = _fhir_datetime(recorded)

            reactions, rows, has_anaphylaxis = self._reactions(criticality)
            if reactions:
                resource["reaction"] = reactions
            else:
                without_reaction += 1
            coding_rows += max(1, rows)
            anaphylactic += has_anaphylaxis
            self.out["AllergyIntolerance"].append(resource)
        return count, without_reaction, coding_rows, anaphylactic

    def _reactions(self, criticality: str | None) -> tuple[list[Resource], int, bool]:
        """An allergy's reactions: (reactions, manifestation coding rows, whether one is anaphylaxis)."""
        rng = self.rng
        rows = 0
        has_anaphylaxis = False
        reactions = []
        for _ in range(_weighted(rng, (0, 1, 2), [0.35, 0.8, 1.0])):
            manifestation_count = 1 if rng.random() < 0.8 else 2
            if criticality == "high" and rng.random() < 0.5:
                picked = [_ANAPHYLAXIS]
                if manifestation_count == 2:
                    picked.append(rng.choice(_OTHER_MANIFESTATIONS))
            else:
                picked = rng.sample(c.MANIFESTATIONS, manifestation_count)
            manifestations = []
            for m in picked:
                coding = [_coding(c.SNOMED, m.code, m.display)]
                if rng.random() < 0.25:
                    coding.append(_coding(c.ICD10CM, m.icd10.code, m.icd10.display))
                rows += len(coding)
                manifestations.append({"coding": coding, "text": m.display})
            reaction: Resource = {"manifestation": manifestations}
            severe = any(m.code == c.ANAPHYLAXIS for m in picked)
            has_anaphylaxis |= severe
            if severe:
                reaction["severity"] = "severe"
            elif rng.random() < 0.6:
                reaction["severity"] = rng.choice(("mild", "moderate"))
            reactions.append(reaction)
        return reactions, rows, has_anaphylaxis


@dataclass
class _Encounter:
    id: str
    kind: c.EncounterType
    start: datetime.datetime
    end: datetime.datetime
    age: float  # patient's age in years at the encounter
    resource: Resource = field(default_factory=dict)


def _latest(measurements: list[tuple[datetime.datetime, int]]) -> int | None:
    """Value of the latest measurement (of equal times, the one written last)."""
    latest: tuple[datetime.datetime, int] | None = None
    for measurement in measurements:
        if latest is None or measurement[0] >= latest[0]:
            latest = measurement
    return None if latest is None else latest[1]


def _vaccines_for_age(age: float) -> tuple[c.Vaccine, ...]:
    # Ages in months are enough to place a visit in the schedule's age bands.
    return _vaccines_for_months(int(age * 12))


@functools.cache
def _vaccines_for_months(months: int) -> tuple[c.Vaccine, ...]:
    age = months / 12
    return tuple(v for v in c.VACCINES if v.min_age <= age < v.max_age)


def _mmhg(value: int) -> dict[str, Any]:
    return {"value": value, "unit": "mm[Hg]", "system": c.UCUM, "code": "mm[Hg]"}


# ----------------------------------------------------------------------------------------- public API


def iter_patient_ids(config: PopulationConfig) -> Iterator[str]:
    """The patient ids :func:`generate_population` gives for ``config``, in order, without generating."""
    for index in range(config.patients):
        yield _uuid(_patient_rng(config.seed, index))


def iter_patients(config: PopulationConfig) -> Iterator[tuple[PatientTruth, dict[str, list[Resource]]]]:
    """Each patient's ground truth and resources (resourceType -> list), one patient at a time."""
    pools = _Pools.draw(config.seed)
    a, b = _mrn_permutation(config.seed)
    for index in range(config.patients):
        resources, truth = _PatientBuilder(config, pools, index, (a * index + b) % MRN_MODULUS).build()
        yield truth, resources


def generate_population(config: PopulationConfig, *, on_patient: Callable[[], None] | None = None) -> Population:
    """Generate the whole population in memory (about 26 resources per patient).

    For large populations, :func:`stream_bulk_export` writes the same files without holding them.
    """
    resources: dict[str, list[Resource]] = {rtype: [] for rtype in RESOURCE_TYPES}
    truth: dict[str, PatientTruth] = {}
    for facts, out in iter_patients(config):
        for rtype, items in out.items():
            resources[rtype].extend(items)
        truth[facts.patient_id] = facts
        if on_patient is not None:
            on_patient()
    return Population(resources=resources, ground_truth=truth)


class _BulkWriter:
    """Appends resources to ``<Type>.<nnn>.ndjson`` files, opened on a type's first resource."""

    def __init__(self, out_dir: Path, types: Iterable[str], max_resources_per_file: int | None) -> None:
        if max_resources_per_file is not None and max_resources_per_file < 1:
            raise ValueError(f"max_resources_per_file must be at least 1, got {max_resources_per_file}")
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        types = set(types)
        for existing in self.out_dir.glob("*.ndjson"):  # stale parts of an earlier export
            match = BULK_FILE_PATTERN.match(existing.name)
            if match and match["type"] in types:
                existing.unlink()
        self.limit = max_resources_per_file
        self.files: dict[str, TextIO] = {}
        self.counts: dict[str, int] = {}
        self.dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode

    def write(self, resource_type: str, resources: list[Resource]) -> None:
        if not resources:
            return
        done = self.counts.get(resource_type, 0)
        if self.limit is None:
            if resource_type not in self.files:
                self._open(resource_type, 0)
            self.files[resource_type].write("".join([self.dumps(r) + "\n" for r in resources]))
        else:
            for offset, resource in enumerate(resources, start=done):
                if offset % self.limit == 0:
                    self._open(resource_type, offset // self.limit)
                self.files[resource_type].write(self.dumps(resource) + "\n")
        self.counts[resource_type] = done + len(resources)

    def _open(self, resource_type: str, part: int) -> None:
        if resource_type in self.files:
            self.files[resource_type].close()
        path = self.out_dir / f"{resource_type}.{part:03d}.ndjson"
        self.files[resource_type] = path.open("w", encoding="utf-8", newline="\n")

    def close(self) -> dict[str, int]:
        for handle in self.files.values():
            handle.close()
        return dict(sorted(self.counts.items()))


def write_bulk_export(
    population: Population, out_dir: Path, *, max_resources_per_file: int | None = None
) -> dict[str, int]:
    """Write ``<ResourceType>.000.ndjson`` files (FHIR bulk export naming); return resources per type.

    Types without resources get no file. Files of an earlier export in ``out_dir`` named
    ``<Type>.<nnn>.ndjson`` for the types written here are removed first, so a smaller export never
    leaves stale parts behind. ``max_resources_per_file`` splits a type into ``.000``, ``.001``, ...
    """
    writer = _BulkWriter(out_dir, population.resources, max_resources_per_file)
    try:
        for resource_type in sorted(population.resources):
            writer.write(resource_type, population.resources[resource_type])
    finally:
        counts = writer.close()
    return counts


@dataclass(frozen=True)
class ExportSummary:
    counts: dict[str, int]  # resources written per type
    ground_truth: dict[str, PatientTruth]


def stream_bulk_export(
    config: PopulationConfig,
    out_dir: Path,
    *,
    max_resources_per_file: int | None = None,
    on_patient: Callable[[], None] | None = None,
) -> ExportSummary:
    """Generate and write patient by patient: the same bytes as
    ``write_bulk_export(generate_population(config), out_dir)``, in memory only the ground truth."""
    writer = _BulkWriter(out_dir, RESOURCE_TYPES, max_resources_per_file)
    truth: dict[str, PatientTruth] = {}
    try:
        for facts, resources in iter_patients(config):
            for resource_type, items in resources.items():
                writer.write(resource_type, items)
            truth[facts.patient_id] = facts
            if on_patient is not None:
                on_patient()
    finally:
        counts = writer.close()
    return ExportSummary(counts=counts, ground_truth=truth)
