-- One row per information collection (采集). A re-collection is a new row with a later collected_on.
with

collections as (
    select * from {{ source('village_teams', 'households') }}
),

renamed as (
    select
        household_id,
        collected_on,
        village_code,
        head_name,
        head_id_number,
        registered_poor,
        poverty_exited,
        party_member,
        education,
        healthy,
        military_member,
        homestead_house_value,
        -- DATA_CONTRACT: an empty income_project counts as 无 (D1 applies).
        coalesce(income_project, '无') as income_project,
        work_proof,
        entity_registered,
        entity_scale,
        forest_cert,
        land_cert,
        homestead_cert,
        equipment_value,
        honor,
        family_harmonious,
        neighbor_harmonious,
        petitions_12m,
        urban_property_75,
        urban_property_50,
        commercial_insurance,
        credit_overdue_count,
        credit_npl_count,
        guarantee_amount,
        guarantee_overdue,
        mortgage_amount,
        enforcement_ended_on,
        under_enforcement,
        dishonest_debtor,
        vice_record
    from collections
)

select * from renamed
