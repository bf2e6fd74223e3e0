{#- The no-show rate is a share: between 0 and 1, and null exactly when no appointment came due. -#}
select
    patient_id,
    no_show_rate
from {{ ref('int_appointments_summarised') }}
where
    no_show_rate < 0
    or no_show_rate > 1
    or (no_show_rate is null) != (noshow_count + arrived_count + fulfilled_count = 0)
