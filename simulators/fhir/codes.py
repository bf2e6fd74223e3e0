"""Code sets for the synthetic FHIR population (SNOMED CT, RxNorm, CVX, LOINC, OMB race/ethnicity).

Codes and displays follow what Synthea writes (the Synthea sample, setting P360_SYNTHEA_DIR), so the
simulated resources look like a real US Core export.
"""

from __future__ import annotations

from typing import NamedTuple

SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
OMB = "urn:oid:2.16.840.1.113883.6.238"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
BCP47 = "urn:ietf:bcp:47"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
US_CORE_RACE = US_CORE + "us-core-race"
US_CORE_ETHNICITY = US_CORE + "us-core-ethnicity"
US_CORE_BIRTHSEX = US_CORE + "us-core-birthsex"

# Identifier systems of the simulated hospital (example.org: never a real organisation).
PATIENT_ID_SYSTEM = "https://patient360.example.org/fhir/patient-id"
MRN_SYSTEM = "https://patient360.example.org/fhir/mrn"
ENCOUNTER_ID_SYSTEM = "https://patient360.example.org/fhir/encounter-id"
SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"

ANAPHYLAXIS = "39579001"


class Code(NamedTuple):
    code: str
    display: str


class Race(NamedTuple):
    code: str
    display: str
    weight: float


# OMB race categories with roughly US-census weights.
RACES: tuple[Race, ...] = (
    Race("2106-3", "White", 0.60),
    Race("2054-5", "Black or African American", 0.13),
    Race("2028-9", "Asian", 0.06),
    Race("1002-5", "American Indian or Alaska Native", 0.02),
    Race("2076-8", "Native Hawaiian or Other Pacific Islander", 0.01),
    Race("2131-1", "Other Race", 0.18),
)
HISPANIC = Code("2135-2", "Hispanic or Latino")
NOT_HISPANIC = Code("2186-5", "Not Hispanic or Latino")

MARITAL_STATUSES: tuple[tuple[str, str, float], ...] = (
    ("M", "Married", 0.5),
    ("S", "Never Married", 0.3),
    ("D", "Divorced", 0.12),
    ("W", "Widowed", 0.08),
)

LANGUAGES: tuple[tuple[str, str, float], ...] = (
    ("en-US", "English (United States)", 0.84),
    ("es", "Spanish", 0.12),
    ("zh", "Chinese", 0.02),
    ("vi", "Vietnamese", 0.01),
    ("fr", "French", 0.01),
)

NICKNAMES: dict[str, str] = {
    "Robert": "Bob", "William": "Bill", "Richard": "Dick", "James": "Jim", "John": "Jack",
    "Michael": "Mike", "Christopher": "Chris", "Joseph": "Joe", "Thomas": "Tom", "Daniel": "Dan",
    "Matthew": "Matt", "Anthony": "Tony", "Andrew": "Andy", "Joshua": "Josh", "Nicholas": "Nick",
    "Benjamin": "Ben", "Samuel": "Sam", "Alexander": "Alex", "Jennifer": "Jen", "Elizabeth": "Liz",
    "Patricia": "Pat", "Margaret": "Peggy", "Katherine": "Kate", "Catherine": "Cathy", "Rebecca": "Becky",
    "Jessica": "Jess", "Susan": "Sue", "Deborah": "Debbie", "Kimberly": "Kim", "Victoria": "Vicky",
    "Stephanie": "Steph", "Christina": "Tina", "Samantha": "Sam", "Alexandra": "Alex", "Abigail": "Abby",
    "David": "Dave", "Charles": "Charlie", "Edward": "Ed", "Timothy": "Tim", "Kenneth": "Ken",
    "Steven": "Steve", "Jonathan": "Jon", "Gregory": "Greg", "Ronald": "Ron", "Donald": "Don",
    "Raymond": "Ray", "Lawrence": "Larry",
    "Jacob": "Jake", "Zachary": "Zach", "Nathan": "Nate", "Gerald": "Jerry", "Frederick": "Fred",
    "Barbara": "Barb", "Amanda": "Mandy", "Cynthia": "Cindy", "Pamela": "Pam", "Kathleen": "Kathy",
    "Christine": "Chris", "Melissa": "Mel", "Michelle": "Shelly", "Jacqueline": "Jackie", "Nicole": "Nikki",
    "Theresa": "Terri", "Valerie": "Val", "Gabrielle": "Gabby", "Madison": "Maddie", "Olivia": "Liv",
}


class Substance(NamedTuple):
    system: str
    code: str
    display: str
    category: str  # food | medication | environment | biologic


ALLERGY_SUBSTANCES: tuple[Substance, ...] = (
    Substance(RXNORM, "7980", "Penicillin G", "medication"),
    Substance(RXNORM, "1191", "Aspirin", "medication"),
    Substance(RXNORM, "10831", "Sulfamethoxazole / Trimethoprim", "medication"),
    Substance(RXNORM, "5640", "Ibuprofen", "medication"),
    Substance(RXNORM, "2670", "Codeine", "medication"),
    Substance(SNOMED, "91936005", "Allergy to penicillin (finding)", "medication"),
    Substance(SNOMED, "762952008", "Peanut (substance)", "food"),
    Substance(SNOMED, "442571000124108", "Tree nut (substance)", "food"),
    Substance(SNOMED, "102263004", "Eggs (edible) (substance)", "food"),
    Substance(SNOMED, "3718001", "Cow's milk (substance)", "food"),
    Substance(SNOMED, "44027008", "Seafood (substance)", "food"),
    Substance(SNOMED, "256350002", "Wheat (substance)", "food"),
    Substance(SNOMED, "111088007", "Latex (substance)", "environment"),
    Substance(SNOMED, "264287008", "Animal dander (substance)", "environment"),
    Substance(SNOMED, "84489001", "Mold (organism)", "environment"),
    Substance(SNOMED, "260147004", "House dust mite (organism)", "environment"),
    Substance(SNOMED, "288328004", "Bee venom (substance)", "environment"),
    Substance(SNOMED, "782576004", "Tree pollen (substance)", "environment"),
    Substance(SNOMED, "256277009", "Grass pollen (substance)", "environment"),
)


class Manifestation(NamedTuple):
    code: str
    display: str
    icd10: Code  # second coding, used for the "manifestation with 2 codings" case


_M = Manifestation
MANIFESTATIONS: tuple[Manifestation, ...] = (
    _M("247472004", "Wheal (finding)",
       Code("L50.9", "Urticaria, unspecified")),
    _M("267036007", "Dyspnea (finding)",
       Code("R06.00", "Dyspnea, unspecified")),
    _M("271807003", "Eruption of skin (disorder)",
       Code("R21", "Rash and other nonspecific skin eruption")),
    _M("300359004", "Finding of vomiting (finding)",
       Code("R11.10", "Vomiting, unspecified")),
    _M(ANAPHYLAXIS, "Anaphylaxis (disorder)",
       Code("T78.2XXA", "Anaphylactic shock, unspecified, initial encounter")),
    _M("402387002", "Allergic angioedema (disorder)",
       Code("T78.3XXA", "Angioneurotic edema, initial encounter")),
    _M("418290006", "Itching (finding)",
       Code("L29.9", "Pruritus, unspecified")),
    _M("878820003", "Rhinoconjunctivitis (disorder)",
       Code("J30.9", "Allergic rhinitis, unspecified")),
    _M("21626009", "Cutaneous hypersensitivity (disorder)",
       Code("L27.0", "Generalized skin eruption due to drugs")),
    _M("267101005", "Nose running (finding)",
       Code("J34.89", "Other specified disorders of nose and nasal sinuses")),
)


class ConditionCode(NamedTuple):
    code: str
    display: str
    min_age: int
    chronic: bool


ACUTE_CONDITIONS: tuple[ConditionCode, ...] = (
    ConditionCode("195662009", "Acute viral pharyngitis (disorder)", 0, False),
    ConditionCode("444814009", "Viral sinusitis (disorder)", 0, False),
    ConditionCode("10509002", "Acute bronchitis (disorder)", 0, False),
    ConditionCode("43878008", "Streptococcal sore throat (disorder)", 2, False),
    ConditionCode("65363002", "Otitis media (disorder)", 0, False),
    ConditionCode("301011002", "Escherichia coli urinary tract infection (disorder)", 5, False),
    ConditionCode("44465007", "Sprain of ankle (disorder)", 5, False),
    ConditionCode("283371005", "Laceration of forearm (disorder)", 3, False),
    ConditionCode("16114001", "Fracture of ankle (disorder)", 5, False),
    ConditionCode("840539006", "COVID-19 (disorder)", 0, False),
    ConditionCode("386661006", "Fever (finding)", 0, False),
    ConditionCode("233604007", "Pneumonia (disorder)", 0, False),
)

CHRONIC_CONDITIONS: tuple[ConditionCode, ...] = (
    ConditionCode("59621000", "Essential hypertension (disorder)", 25, True),
    ConditionCode("55822004", "Hyperlipidemia (disorder)", 30, True),
    ConditionCode("15777000", "Prediabetes (finding)", 20, True),
    ConditionCode("44054006", "Diabetes mellitus type 2 (disorder)", 30, True),
    ConditionCode("195967001", "Asthma (disorder)", 2, True),
    ConditionCode("162864005", "Body mass index 30+ - obesity (finding)", 18, True),
    ConditionCode("271737000", "Anemia (disorder)", 10, True),
    ConditionCode("278860009", "Chronic low back pain (finding)", 25, True),
    ConditionCode("414545008", "Ischemic heart disease (disorder)", 45, True),
    ConditionCode("40055000", "Chronic sinusitis (disorder)", 15, True),
    ConditionCode("431855005", "Chronic kidney disease stage 1 (disorder)", 40, True),
)


class EncounterType(NamedTuple):
    class_code: str  # v3-ActCode: AMB | EMER | IMP
    class_display: str
    code: str
    display: str
    kind: str  # wellness | problem | followup | vaccine
    max_age: int = 200


_E = EncounterType
ENCOUNTER_TYPES: tuple[tuple[EncounterType, float], ...] = (
    (_E("AMB", "ambulatory", "185349003", "Encounter for check up (procedure)", "wellness"), 0.16),
    (_E("AMB", "ambulatory", "162673000", "General examination of patient (procedure)", "wellness"), 0.12),
    (_E("AMB", "ambulatory", "410620009", "Well child visit (procedure)", "wellness", 17), 0.08),
    (_E("AMB", "ambulatory", "185347001", "Encounter for problem (procedure)", "problem"), 0.22),
    (_E("AMB", "ambulatory", "185345009", "Encounter for symptom (procedure)", "problem"), 0.08),
    (_E("AMB", "ambulatory", "702927004", "Urgent care clinic (environment)", "problem"), 0.07),
    (_E("AMB", "ambulatory", "390906007", "Follow-up encounter (procedure)", "followup"), 0.08),
    (_E("AMB", "ambulatory", "33879002", "Administration of vaccine to produce active immunity (procedure)",
        "vaccine"), 0.05),
    (_E("EMER", "emergency", "50849002", "Emergency room admission (procedure)", "problem"), 0.11),
    (_E("IMP", "inpatient encounter", "32485007", "Hospital admission (procedure)", "problem"), 0.03),
)


class Vaccine(NamedTuple):
    code: str
    display: str
    min_age: float
    max_age: float
    probability: float  # per wellness / vaccine visit in the age band


VACCINES: tuple[Vaccine, ...] = (
    Vaccine("08", "Hep B, adolescent or pediatric", 0, 2, 0.5),
    Vaccine("20", "DTaP", 0, 7, 0.45),
    Vaccine("10", "IPV", 0, 7, 0.4),
    Vaccine("49", "Hib (PRP-OMP)", 0, 2, 0.4),
    Vaccine("133", "Pneumococcal conjugate PCV 13", 0, 2, 0.4),
    Vaccine("116", "rotavirus, pentavalent", 0, 1, 0.4),
    Vaccine("03", "MMR", 1, 7, 0.35),
    Vaccine("21", "varicella", 1, 7, 0.35),
    Vaccine("83", "Hep A, ped/adol, 2 dose", 1, 3, 0.3),
    Vaccine("62", "HPV, quadrivalent", 9, 27, 0.2),
    Vaccine("114", "meningococcal MCV4P", 11, 19, 0.25),
    Vaccine("115", "Tdap", 11, 200, 0.06),
    Vaccine("113", "Td (adult), 5 Lf tetanus toxoid, preservative free, adsorbed", 19, 200, 0.06),
    Vaccine("121", "zoster vaccine, live", 50, 200, 0.05),
    Vaccine("33", "pneumococcal polysaccharide vaccine, 23 valent", 65, 200, 0.1),
)
FLU = Vaccine("140", "Influenza, seasonal, injectable, preservative free", 0.5, 200, 0.6)
COVID = Vaccine(
    "208", "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose",
    12, 200, 0.25,
)

# Vital signs (LOINC) and the US Core profile each one claims.
HEART_RATE = Code("8867-4", "Heart rate")
BLOOD_PRESSURE = Code("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = Code("8480-6", "Systolic blood pressure")
DIASTOLIC = Code("8462-4", "Diastolic blood pressure")
BODY_WEIGHT = Code("29463-7", "Body weight")
PROFILE_HEART_RATE = US_CORE + "us-core-heart-rate"
PROFILE_BLOOD_PRESSURE = US_CORE + "us-core-blood-pressure"
PROFILE_BODY_WEIGHT = US_CORE + "us-core-body-weight"
