{#- The village breaker's words and distances, shared by today's readings (int_village_readings)
    and next month-end's outlook (village_npl_outlook). Every comparison is exact (macros/policy.sql
    rate_exceeds); every number comes from the policy profile. -#}

{#- R-B2 / R-B4: a village's breaker status from its NPL and outstanding balances: 无贷款 without
    outstanding balance (no rate, not tripped), 熔断 when the NPL rate exceeds the breaker line (3%;
    exactly 3.00% does not trip), 预警 above the watch line (2%) and not above 3%, else 正常. -#}
{% macro breaker_status(npl, outstanding) -%}
    case
        when {{ outstanding }} = 0 then '无贷款'
        when {{ rate_exceeds(npl, outstanding, var('village_breaker_rate_pct')) }} then '熔断'
        when {{ rate_exceeds(npl, outstanding, var('watch_rate_pct')) }} then '预警'
        else '正常'
    end
{%- endmacro %}

{#- R-B2 / R-B4: the least NPL principal x, to the fen, that brings a village's NPL rate back to a line
    (pct, in %: the breaker's 3% or the watch line's 2%) once recovered or written off:
    (npl - x) * 100 <= pct * (outstanding - x).
    Reading: recovered principal leaves both balances (the loan's outstanding principal falls by what
    is repaid, R-L1), and a written-off loan leaves the book with its whole outstanding principal, so
    both the NPL and the outstanding balance fall by x. A loan cured by paying its overdue
    instalments (DPD back to 90 or less) would leave the NPL balance without leaving the outstanding
    balance; that road is not counted here. 0 when the rate is already at or under the line; NULL
    without outstanding balance. In exact integer arithmetic on fen, the line scaled by 10^6
    (pct may have up to 6 decimals): x >= (10^8 * npl - P * outstanding) / (10^8 - P), P = pct * 10^6,
    rounded up. -#}
{% macro npl_to_clear(npl, outstanding, pct) -%}
    case
        when {{ outstanding }} > 0 and {{ pct }} < 100 then cast(
            cast(
                greatest(
                    (
                        cast({{ npl }} * 100 as hugeint) * 100000000
                        - cast({{ pct }} * 1000000 as hugeint) * cast({{ outstanding }} * 100 as hugeint)
                        + (100000000 - cast({{ pct }} * 1000000 as hugeint)) - 1
                    ) // (100000000 - cast({{ pct }} * 1000000 as hugeint)),
                    0
                ) as decimal(38, 0)
            ) * 0.01 as decimal(18, 2)
        )
    end
{%- endmacro %}
