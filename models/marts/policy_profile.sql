-- The policy profile this warehouse was built with (dbt vars: Hubin's defaults or a county's
-- overrides), so the dashboard draws the lines the numbers were computed against.
{%- set names = [
    'base_score', 'poor_bonus', 'cover_tolerance', 'book_min_outstanding', 'npl_dpd_threshold',
    'village_breaker_rate_pct', 'watch_rate_pct', 'township_breaker_share_pct', 'title_rate_pct',
    'd3_overdue_points', 'd3_npl_points', 'd6_points', 'enforcement_lookback_years',
    'max_term_months', 'entity_rate_markup_pct', 'entity_subsidy_rate_pct',
    'loss_share_district_pct', 'loss_share_bank_pct', 'loss_share_insurer_pct',
    'risk_fund', 'risk_fund_leverage', 'guarantee_fund_pct', 'district_code', 'district_name',
    'no_credit_grade', 'stale_collection_months'] %}

with

-- noqa: disable=LT02
parameters as (
    select * from (
        values
        {%- for name in names %}
        ('{{ name }}', '{{ var(name) }}'){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as parameter_values (parameter, parameter_value)  -- noqa: AL05
),

grades as (
    select * from (
        values
        {%- for band in var('grades') %}
        ('{{ band['grade'] }}', {{ band['min_score'] }}, {{ band['credit_limit'] }}, {{ loop.index }})
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    ) as grade_bands (grade, min_score, credit_limit, grade_rank)  -- noqa: AL05
),
-- noqa: enable=LT02

final as (
    select
        parameters.parameter,
        parameters.parameter_value,
        null as grade,
        null as min_score,
        null as credit_limit,
        null as grade_rank
    from parameters
    union all by name
    select
        'grade' as parameter,
        grades.grade as parameter_value,
        grades.grade,
        grades.min_score,
        cast(grades.credit_limit as decimal(18, 2)) as credit_limit,
        grades.grade_rank
    from grades
)

select * from final
