{#-
    Clinical resources whose patient reference resolves to no known patient (dangling, other resource type,
    unknown identifier, ...): kept here with the reason, and left out of the per-patient facts.
-#}
with resolved_references as (

    select * from {{ ref('int_patient_references_resolved') }}

)

select
    resource_type,
    resource_id,
    reference_text as reference,
    reference_form,
    unresolved_reason as reason
from resolved_references
where unresolved_reason is not null
