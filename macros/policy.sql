{#- Policy lookups that several models share. Every number comes from the policy profile (vars). -#}

{#- R-C1: grade of an integer score (vetoes are applied by the caller). -#}
{% macro grade_of(score) -%}
    case {%- for band in var('grades') %} when {{ score }} >= {{ band['min_score'] }} then '{{ band['grade'] }}'{% endfor %} else '{{ var('no_credit_grade') }}' end
{%- endmacro %}

{#- R-C1: every grade of the profile, 无信用 included, as an SQL list literal (for tests). -#}
{% macro grade_names() -%}
    {%- set names = [] -%}
    {%- for band in var('grades') %}{% do names.append(band['grade']) %}{% endfor -%}
    {%- do names.append(var('no_credit_grade')) -%}
    {{ sql_list(names) }}
{%- endmacro %}

{#- R-C1: credit limit (元) of a grade. -#}
{% macro credit_limit_of(grade) -%}
    cast(case {{ grade }} {%- for band in var('grades') %} when '{{ band['grade'] }}' then {{ band['credit_limit'] }}{% endfor %} else 0 end as decimal(18, 2))
{%- endmacro %}

{#- R-L1: a loan's outstanding principal keeps it on the book only above 1.00 元. -#}
{% macro above_book_minimum(outstanding) -%}
    ({{ outstanding }} > {{ var('book_min_outstanding') }})
{%- endmacro %}

{#- R-L1: on the book on day D (the caller has disbursed_on <= D): not written off on or before D,
    outstanding principal on D above 1.00 元. -#}
{% macro on_book(outstanding, written_off_on, day) -%}
    (({{ written_off_on }} is null or {{ written_off_on }} > {{ day }}) and {{ above_book_minimum(outstanding) }})
{%- endmacro %}

{#- R-L3: days past due on D from the oldest instalment not covered on D (NULL: none); only an
    instalment due before D can be past due. -#}
{% macro days_past_due(oldest_uncovered_due_on, day) -%}
    case
        when {{ oldest_uncovered_due_on }} < {{ day }}
            then cast({{ day }} - {{ oldest_uncovered_due_on }} as integer)
        else 0
    end
{%- endmacro %}

{#- R-L3: overdue (逾期) when DPD > 0. -#}
{% macro is_overdue(dpd) -%}
    ({{ dpd }} > 0)
{%- endmacro %}

{#- R-L3: non-performing (不良) when DPD > 90. -#}
{% macro is_npl(dpd) -%}
    ({{ dpd }} > {{ var('npl_dpd_threshold') }})
{%- endmacro %}

{#- R-L3: five-tier class (五级分类) by days past due. -#}
{% macro five_tier_of(dpd) -%}
    case
        when {{ dpd }} <= 0 then '正常'
        when {{ dpd }} <= {{ var('npl_dpd_threshold') }} then '关注'
        when {{ dpd }} <= {{ var('five_tier_substandard_max_dpd') }} then '次级'
        when {{ dpd }} <= {{ var('five_tier_doubtful_max_dpd') }} then '可疑'
        else '损失'
    end
{%- endmacro %}

{#- R-B2 / R-B4: exact rate comparisons, never through floats: part * 100 > pct * whole. -#}
{% macro rate_exceeds(part, whole, pct) -%}
    ({{ part }} * 100 > {{ pct }} * {{ whole }})
{%- endmacro %}

{#- R-B2: the smallest count n of a whole with n * 100 >= pct * whole, in exact integer arithmetic
    (pct may have up to 6 decimals). -#}
{% macro count_reaching_share(whole, pct) -%}
    cast((cast({{ pct }} * {{ whole }} * 1000000 as hugeint) + 99999999) // 100000000 as integer)
{%- endmacro %}

{#- A boolean that is empty (unknown) earns and costs nothing. -#}
{% macro is_yes(column) -%}
    coalesce({{ column }}, false)
{%- endmacro %}

{% macro is_no(column) -%}
    coalesce(not {{ column }}, false)
{%- endmacro %}

{#- An exact ratio for display, rounded half up to 10 decimals (DuckDB's decimal division
    returns DOUBLE); NULL when the whole is zero. For non-negative amounts with two decimals or integers. -#}
{% macro exact_ratio(part, whole) -%}
    case when {{ whole }} > 0 then cast(
        cast(
            (cast(cast({{ part }} as decimal(38, 2)) * 100 as hugeint) * 10000000000
                + cast(cast({{ whole }} as decimal(38, 2)) * 100 as hugeint) // 2)
            // cast(cast({{ whole }} as decimal(38, 2)) * 100 as hugeint)
            as decimal(38, 0)
        ) * 0.0000000001 as decimal(18, 10)
    ) end
{%- endmacro %}

{#- A var holding a list of strings as an SQL list literal: ('大专', '本科'). -#}
{% macro sql_list(values) -%}
    ({%- for value in values -%}'{{ value }}'{%- if not loop.last %}, {% endif -%}{%- endfor -%})
{%- endmacro %}
