-- R-G1: the division list, district -> township (9 digits) -> administrative village (12 digits).
with

villages as (
    select * from {{ source('divisions', 'villages') }}
),

renamed as (
    select
        village_code,
        village_name,
        township_code,
        township_name
    from villages
)

select * from renamed
