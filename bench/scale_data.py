"""Scale data for the dbt benchmark, written straight into the local stand-ins (no Kafka, no Python loop).

A month of per-minute wearable events for a share of a 100k-patient population is tens of millions of
records: producing them through Kafka (figure 2 measures that path, ~25k events/s) would take half an
hour. Here one DuckDB statement writes them into the stream landing table in its exact layout (the columns
a Redshift streaming view over MSK exposes, ``patient360/local_aws/streaming/landing.py``): the same JSON
value the producer sends (``simulators/wearables/events.py``), key = patient id, three partitions by key,
offsets in time order within each partition, and the consumer offsets the ingestor would have stored, so
a later Kafka refresh would continue after them.

Values are seeded and deterministic (DuckDB ``hash`` of seed, patient and minute): a resting heart rate
per patient, sleep at night, walking and bursts of activity above 80 bpm by day.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from patient360.local_aws.streaming.landing import (
    STATE_SCHEMA,
    connect_with_retry,
    ensure_landing,
    landing_lock,
    landing_path,
    landing_table,
)
from patient360.settings import Settings

PARTITIONS = 3
MINUTES_PER_DAY = 24 * 60

# One row per (wearer, minute) with the event's fields; {seed}, {first_minute}, {minutes} are filled in.
EVENTS_SQL = """
with wearers as (
    select
        patient_id,
        ordinal,
        hash(patient_id) % {partitions} as kafka_partition,
        52 + hash({seed}, patient_id, 'rest') % 23 as resting_hr,
        'dev-' || substr(md5({seed} || patient_id), 1, 16) as device_id
    from bench_wearers
),
placed as (
    select
        *,
        row_number() over (partition by kafka_partition order by ordinal) - 1 as slot,
        count(*) over (partition by kafka_partition) as partition_wearers
    from wearers
),
minutes as (
    select range as minute_index from range({first_minute}, {first_minute} + {minutes})
),
ticks as (
    select
        placed.*,
        minutes.minute_index,
        timestamp '{start}' + to_minutes(minutes.minute_index) as event_time,
        hash({seed}, placed.patient_id, minutes.minute_index) as noise,
        hash({seed}, placed.patient_id, minutes.minute_index // 60) as hour_noise
    from placed
    cross join minutes
),
shaped as (
    select
        *,
        hour(event_time) < 7 as asleep,
        not asleep and hour_noise % 100 < 10 and minute(event_time) < 10 + hour_noise % 40 as bursting,
        not asleep and not bursting and noise % 100 < 15 as walking
    from ticks
)
select
    kafka_partition,
    minute_index * partition_wearers + slot as kafka_offset,
    event_time,
    patient_id,
    device_id,
    -- uuid4-shaped: hashed head, unique tail (minute index and wearer ordinal)
    printf('%08x-%04x-4%03x-a%03x-%012x', noise >> 32, noise % 65536, (noise >> 16) % 4096,
        hour_noise % 4096, (minute_index << 28) + ordinal) as event_id,
    case
        when asleep then (noise >> 8) % 100 = 0
        when bursting then 90 + (noise >> 8) % 76
        when walking then 20 + (noise >> 8) % 61
        else ((noise >> 8) % 10 < 3)::int * (noise >> 16) % 11
    end::bigint as steps_increment,
    case
        when asleep then resting_hr - 7 + (noise >> 24) % 5
        when bursting then 95 + hour_noise % 60 + (noise >> 24) % 7
        when walking then resting_hr + 8 + (noise >> 24) % 9
        else resting_hr + (noise >> 24) % 7
    end::bigint as heart_rate,
    -- what a real stream also carries (quarantined downstream): 0.1% cut-off values, 0.1% impossible heart rates
    case (noise >> 40) % 1000 when 0 then 'not_json' when 1 then 'heart_rate_out_of_range' end as fault
from shaped
"""

# The landing row for each event: the producer's JSON value (simulators/wearables/events.py), key = patient id.
LANDING_SELECT = """
select
    kafka_partition,
    kafka_offset,
    'C' as kafka_timestamp_type,
    event_time + to_milliseconds({arrival_ms} + (hash(event_id) % 1000)::bigint) as kafka_timestamp,
    encode(patient_id) as kafka_key,
    encode(case fault when 'not_json' then left(json_text, 40) else json_text end) as kafka_value,
    '[]'::json as kafka_headers,
    now()::timestamp as refresh_time
from (
    select
        *,
        '{{"event_id":"' || event_id || '","patient_id":"' || patient_id || '","device_id":"' || device_id
        || '","event_time":"' || strftime(event_time, '%Y-%m-%dT%H:%M:%S.000Z') || '","steps_increment":'
        || steps_increment || ',"heart_rate":'
        || case fault when 'heart_rate_out_of_range' then 300 else heart_rate end || '}}' as json_text
    from ({events})
)
"""


@dataclass(frozen=True)
class LandingLoad:
    wearers: int
    days: float
    events: int
    seconds: float
    start: datetime

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def today_midnight() -> datetime:
    return datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)


def write_wearable_landing(
    settings: Settings,
    patient_ids: list[str],
    *,
    seed: int,
    start: datetime,
    first_minute: int,
    minutes: int,
    arrival_delay_s: float = 2.0,
) -> LandingLoad:
    """Append ``minutes`` per-minute events (from ``start + first_minute``) for every patient to the landing
    table in one transaction, continuing each partition's offsets (the caller keeps the same patient list
    across calls so offsets stay dense)."""
    if not patient_ids:
        raise ValueError("no wearer patient ids given")
    if minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    data_dir, topic, schema = settings.data_dir, settings.kafka.topic, settings.kafka.external_schema
    ensure_landing(data_dir, topic, schema)
    started = time.perf_counter()
    with landing_lock(data_dir, shared=False, timeout_s=120):
        con = connect_with_retry(landing_path(data_dir), timeout_s=120)
        try:
            con.execute("create temp table bench_wearers (patient_id varchar, ordinal bigint)")
            con.execute(
                "insert into bench_wearers select unnest($1), unnest(range(len($1)))", [patient_ids]
            )
            events = EVENTS_SQL.format(
                partitions=PARTITIONS, seed=int(seed), first_minute=int(first_minute), minutes=int(minutes),
                start=start.strftime("%Y-%m-%d %H:%M:%S"),
            )
            con.execute("begin transaction")
            rows = LANDING_SELECT.format(events=events, arrival_ms=int(arrival_delay_s * 1000))
            con.execute(f"insert into {landing_table(schema, topic)} {rows}")
            con.execute(
                f"insert or replace into {STATE_SCHEMA}.consumer_offsets "
                "select ?, kafka_partition, max(kafka_offset) + 1, 'bench-direct-write', now()::timestamp "
                f"from {landing_table(schema, topic)} group by kafka_partition",
                [topic],
            )
            con.execute("commit")
        finally:
            con.close()
    elapsed = time.perf_counter() - started
    return LandingLoad(
        wearers=len(patient_ids), days=minutes / MINUTES_PER_DAY, events=len(patient_ids) * minutes,
        seconds=elapsed, start=start + timedelta(minutes=first_minute),
    )
