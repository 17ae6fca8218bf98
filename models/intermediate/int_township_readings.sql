-- The township breaker reading at every snapshot date (R-B2): tripped when the villages tripped
-- are at least 30% of all its administrative villages in the division list (with loans or not),
-- compared exactly: tripped * 100 >= 30 * total. The township's own NPL rate over its villages'
-- household loans is reported too (R-T2, and other counties' profiles).
-- The one home of the township breaker: township_breaker, int_credit_stops and int_titles_to_date
-- read it.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_rebuilt('as_of', township='township_code') }}",
) }}


-- depends_on: {{ source('intake', 'touched_townships') }}

with

villages as (
    select * from {{ ref('int_village_readings') }}
    where {{ rebuilt('as_of', township='township_code') }}
),

final as (
    select
        township_code,
        any_value(township_name) as township_name,
        as_of,
        any_value(is_month_end) as is_month_end,
        cast(count(*) as integer) as villages_total,
        cast(count(*) filter (where tripped) as integer) as villages_tripped,
        cast(count(*) filter (where watch) as integer) as villages_watch,
        cast(count(*) filter (where status = '无贷款') as integer) as villages_without_loans,
        {{ exact_ratio('count(*) filter (where tripped)', 'count(*)') }} as tripped_share,
        count(*) filter (where tripped) * 100
        >= {{ var('township_breaker_share_pct') }} * count(*) as tripped,
        -- R-B2: how many more tripped villages would trip the township (0 when it is tripped):
        -- the smallest n with n * 100 >= 30 * total, less those tripped.
        cast(greatest(
            {{ count_reaching_share('count(*)', var('township_breaker_share_pct')) }}
            - count(*) filter (where tripped),
            0
        ) as integer) as villages_to_trip,
        cast(sum(outstanding_balance) as decimal(18, 2)) as outstanding_balance,
        cast(sum(overdue_balance) as decimal(18, 2)) as overdue_balance,
        cast(sum(npl_balance) as decimal(18, 2)) as npl_balance,
        {{ exact_ratio('sum(npl_balance)', 'sum(outstanding_balance)') }} as npl_rate
    from villages
    group by township_code, as_of
)

select * from final
