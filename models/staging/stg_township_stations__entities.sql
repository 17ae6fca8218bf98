with

entities as (
    select * from {{ source('township_stations', 'entities') }}
),

renamed as (
    select
        entity_id,
        name as entity_name,
        kind as entity_kind,
        village_code,
        credit_code,
        poor_households_linked
    from entities
)

select * from renamed
