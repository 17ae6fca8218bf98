with

quarantine as (
    select * from {{ source('intake', 'quarantine') }}
)

select * from quarantine
