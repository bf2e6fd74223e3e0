{#-
    patient_360 with last_updated_at: when the row last changed in a way the snapshot checks (the start of
    its current version in patient_360_snapshot). What `patient360 sync export` reads: an incremental sync
    takes the rows whose last_updated_at is after its stored watermark.
-#}
with patients as (

    select * from {{ ref('patient_360') }}

),

current_versions as (

    select
        patient_id,
        cast(dbt_valid_from as timestamp) as last_updated_at
    from {{ ref('patient_360_snapshot') }}
    where dbt_valid_to is null

)

select
    patients.*,
    current_versions.last_updated_at
from patients
inner join current_versions
    on patients.patient_id = current_versions.patient_id
