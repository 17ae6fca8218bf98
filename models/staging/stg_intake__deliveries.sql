with

deliveries as (
    select * from {{ source('intake', 'deliveries') }}
)

select * from deliveries
