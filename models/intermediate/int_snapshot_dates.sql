-- DATA_CONTRACT "Snapshot dates": every month-end from the month of the earliest data date up to
-- the build's as-of date, plus the as-of date itself when it is not a month-end.
-- Reading chosen: "dates in the data" are the dates of things that happened — collections,
-- disbursements, payments, write-offs — not scheduled due dates or maturities (which lie in the
-- future) nor enforcement end dates (history copied from the credit report).
with

collections as (
    select collected_on as data_on from {{ ref('stg_village_teams__households') }}
),

disbursements as (
    select disbursed_on as data_on from {{ ref('stg_bank__loans') }}
),

write_offs as (
    select written_off_on as data_on from {{ ref('stg_bank__loans') }}
    where written_off_on is not null
),

payments as (
    select paid_on as data_on from {{ ref('stg_bank__repayments') }}
),

data_range as (
    select
        min(data_on) as first_data_on,
        {% if var('as_of') -%}
            cast('{{ var('as_of') }}' as date)
        {%- else -%}
            max(data_on)
        {%- endif %} as build_as_of
    from (
        select * from collections
        union all
        select * from disbursements
        union all
        select * from write_offs
        union all
        select * from payments
    ) as data_dates
),

month_ends as (
    select cast(last_day(months.month_start) as date) as as_of
    from data_range
    cross join
        range(
            date_trunc('month', data_range.first_data_on),
            date_trunc('month', data_range.build_as_of) + interval 1 month,
            interval 1 month
        ) as months (month_start)
    where last_day(months.month_start) <= data_range.build_as_of
),

snapshots as (
    select as_of from month_ends
    union
    select build_as_of as as_of from data_range
),

final as (
    select
        snapshots.as_of,
        -- One snapshot a month: numbered by month from the first (macros/snapshots.sql).
        cast(datediff('month', min(snapshots.as_of) over (), snapshots.as_of) as integer) as snapshot_index,
        snapshots.as_of = last_day(snapshots.as_of) as is_month_end,
        snapshots.as_of = data_range.build_as_of as is_build_as_of,
        -- R-C2: the breaker reading that applies on a day is the latest month-end on or before it.
        case
            when snapshots.as_of = last_day(snapshots.as_of) then snapshots.as_of
            else cast(last_day(snapshots.as_of - interval 1 month) as date)
        end as breaker_month_end
    from snapshots
    cross join data_range
)

select * from final
