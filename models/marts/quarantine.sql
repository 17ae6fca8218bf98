-- Contract table: every rejected raw row with its file, row number, key, the row as read and
-- every reason, in words a clerk understands (DATA_CONTRACT "Bad input").
with

quarantine as (
    select * from {{ ref('stg_intake__quarantine') }}
),

final as (
    select
        source_file,
        file_name,
        delivery_id,
        row_number,
        record_key,
        original,
        reasons
    from quarantine
)

select * from final
order by source_file, delivery_id, row_number
