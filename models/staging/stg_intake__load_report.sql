with

load_report as (
    select * from {{ source('intake', 'load_report') }}
)

select * from load_report
