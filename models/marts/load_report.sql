-- Contract table: one row per raw file read; rows_read = rows_loaded + rows_quarantined
-- (+ rows_superseded by a later delivery's row with the same key).
with

load_report as (
    select * from {{ ref('stg_intake__load_report') }}
),

final as (
    select
        source_file,
        file_name,
        delivery_id,
        rows_read,
        rows_loaded,
        rows_quarantined,
        rows_superseded
    from load_report
)

select * from final
