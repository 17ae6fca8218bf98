with

extra_columns as (
    select * from {{ source('intake', 'extra_columns') }}
)

select * from extra_columns
