-- R-L3 made cheap to look up: the periods during which a loan's oldest uncovered instalment stays
-- the same. Instalments are grouped by the day they became covered; between the previous group's
-- covered_on and this group's covered_on, the oldest instalment not covered is this group's
-- earliest due date. A day D is looked up with the first segment whose covered_on is after D.
-- A view: int_loan_changes reads it once (in a monthly build, the touched loans only).
{{ config(materialized='view') }}

with

instalments as (
    select * from {{ ref('int_instalments_covered') }}
),

final as (
    select
        loan_id,
        -- Never covered in the data: open-ended.
        coalesce(covered_on, date '9999-12-31') as covered_on,
        min(due_on) as oldest_due_on
    from instalments
    group by loan_id, coalesce(covered_on, date '9999-12-31')
)

select * from final
