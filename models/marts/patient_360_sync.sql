{#-
    What `patient360 sync export` reads: one row per patient the snapshot knows. A live row is patient_360
    plus last_updated_at, when a checked column last changed (the start of its current snapshot version). A
    patient gone from every source (every snapshot version closed) is a tombstone: is_deleted true,
    last_updated_at = when its latest version closed, every other column null, so a consumer can delete it.
    An incremental sync takes the rows whose last_updated_at is after its stored watermark.
-#}
with patients as (

    select * from {{ ref('patient_360') }}

),

snapshot_versions as (

    select
        patient_id,
        dbt_valid_from,
        dbt_valid_to
    from {{ ref('patient_360_snapshot') }}

),

current_versions as (

    select
        patient_id,
        cast(dbt_valid_from as timestamp) as last_updated_at
    from snapshot_versions
    where dbt_valid_to is null

),

deleted_patients as (

    -- no open version left (count(dbt_valid_to) skips the open one); one that comes back opens a new
    -- version and so leaves this set
    select
        patient_id,
        cast(max(dbt_valid_to) as timestamp) as deleted_at
    from snapshot_versions
    group by patient_id
    having count(*) = count(dbt_valid_to)

),

sync_rows as (

    -- live: an open version and a patient_360 row (a rebuild of patient_360 alone cannot add half rows)
    select
        current_versions.patient_id,
        false as is_deleted,
        current_versions.last_updated_at
    from current_versions
    inner join patients
        on current_versions.patient_id = patients.patient_id

    union all

    select
        patient_id,
        true as is_deleted,
        deleted_at as last_updated_at
    from deleted_patients

)

-- patient_360's columns by name, left null for a tombstone (even if a stale snapshot lags patient_360)
select
    sync_rows.patient_id,
    patients.identity_source,
    patients.mrn,
    patients.given_name,
    patients.family_name,
    patients.gender,
    patients.birth_date,
    patients.age_years,
    patients.is_deceased,
    patients.allergy_count,
    patients.allergy_descriptions,
    patients.highest_criticality,
    patients.has_anaphylaxis,
    patients.active_condition_count,
    patients.active_conditions,
    patients.immunization_count,
    patients.last_immunization_date,
    patients.appointments_total,
    patients.last_visit_at,
    patients.next_appointment_at,
    patients.booked_count,
    patients.arrived_count,
    patients.fulfilled_count,
    patients.cancelled_count,
    patients.noshow_count,
    patients.no_show_rate,
    patients.phone_number,
    patients.active_minutes_last_7_days,
    patients.active_minutes_last_30_days,
    patients.avg_daily_steps_last_30_days,
    patients.resting_heart_rate_last_30_days,
    patients.last_wearable_event_at,
    patients.healthlake_updated_at,
    patients.front_desk_updated_at,
    patients.wearables_loaded_at,
    patients.last_outreach_at,
    patients.last_outreach_outcome,
    sync_rows.is_deleted,
    sync_rows.last_updated_at
from sync_rows
left join patients
    on
        sync_rows.patient_id = patients.patient_id
        and not sync_rows.is_deleted
