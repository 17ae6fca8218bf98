{#- The leading group's figures (kpi_village_monthly, kpi_monthly): sums at village grain, rolled up
    to townships and the district (R-G1), every ratio and derived figure computed by the same SQL
    at every grain, here. -#}

{#- The additive columns of kpi_village_monthly that a township's row sums over its villages. -#}
{% macro kpi_village_sums() -%}
    {{ return([
        'households_rated', 'households_aaa_plus', 'households_aaa', 'households_aa', 'households_a',
        'households_no_credit', 'households_credit', 'households_vetoed', 'households_credit_stopped',
        'poor_households_rated', 'poor_households_credit', 'poor_borrowing_households',
        'credit_granted', 'available_credit', 'borrowing_households', 'household_loans_on_book',
        'outstanding_balance', 'overdue_balance', 'npl_balance', 'entity_loans_on_book',
        'entity_outstanding_balance', 'entity_amount_on_book', 'loans_disbursed_in_month',
        'amount_disbursed_in_month', 'loans_written_off', 'written_off_principal',
        'poor_interest_subsidy_in_month', 'entity_principal_days_in_month', 'villages_total',
        'villages_tripped', 'villages_watch', 'credit_villages',
    ]) }}
{%- endmacro %}

{#- R-M5: entities pay 10% of their loan amount into the mutual guarantee fund (before rounding;
    the district adds up its townships' figures). -#}
{% macro guarantee_fund_of(entity_amount) -%}
    {{ entity_amount }} * {{ var('guarantee_fund_pct') }} / 100
{%- endmacro %}

{#- R-M2: the 3% a year subsidy on entity loans' outstanding principal, actual/360, from the month's
    principal-days (计息积数 = outstanding principal x days), rounded half up to the fen in exact
    integer arithmetic (the district adds up its townships' figures). -#}
{% macro entity_subsidy_of(principal_days) -%}
    cast(
        cast(
            (
                cast({{ principal_days }} * {{ var('entity_subsidy_rate_pct') }} * 100000000 as hugeint)
                + cast({{ var('entity_subsidy_day_basis') }} as hugeint) * 100 * 1000000 // 2
            ) // (cast({{ var('entity_subsidy_day_basis') }} as hugeint) * 100 * 1000000)
            as decimal(38, 0)
        ) * 0.01 as decimal(18, 2)
    )
{%- endmacro %}

{#- The published columns of a KPI row, from a relation holding the sums (kpi_village_sums), the
    R-M2 / R-M5 figures (entity_interest_subsidy_in_month, guarantee_fund_balance), the township
    columns and the titles: casts, and every ratio through exact_ratio. -#}
{% macro kpi_columns() -%}
        cast(households_rated as integer) as households_rated,
        cast(households_aaa_plus as integer) as households_aaa_plus,
        cast(households_aaa as integer) as households_aaa,
        cast(households_aa as integer) as households_aa,
        cast(households_a as integer) as households_a,
        cast(households_no_credit as integer) as households_no_credit,
        cast(households_credit as integer) as households_credit,
        cast(households_vetoed as integer) as households_vetoed,
        cast(households_credit_stopped as integer) as households_credit_stopped,
        cast(poor_households_rated as integer) as poor_households_rated,
        cast(poor_households_credit as integer) as poor_households_credit,
        cast(poor_borrowing_households as integer) as poor_borrowing_households,
        -- 获贷率: registered-poor rated households with a loan on the book (R-S5, R-L1).
        {{ exact_ratio('poor_borrowing_households', 'poor_households_rated') }} as poor_loan_access_rate,
        cast(credit_granted as decimal(18, 2)) as credit_granted,
        cast(available_credit as decimal(18, 2)) as available_credit,
        cast(borrowing_households as integer) as borrowing_households,
        cast(household_loans_on_book as integer) as household_loans_on_book,
        cast(outstanding_balance as decimal(18, 2)) as outstanding_balance,
        cast(overdue_balance as decimal(18, 2)) as overdue_balance,
        cast(npl_balance as decimal(18, 2)) as npl_balance,
        {{ exact_ratio('overdue_balance', 'outstanding_balance') }} as overdue_rate,
        -- R-B1 basis: household loans on the book.
        {{ exact_ratio('npl_balance', 'outstanding_balance') }} as npl_rate,
        outstanding_balance > 0
        and {{ rate_exceeds('npl_balance', 'outstanding_balance', var('village_breaker_rate_pct')) }}
            as npl_above_line,
        cast(entity_loans_on_book as integer) as entity_loans_on_book,
        cast(entity_outstanding_balance as decimal(18, 2)) as entity_outstanding_balance,
        cast(outstanding_balance + entity_outstanding_balance as decimal(18, 2))
            as total_outstanding_balance,
        -- R-M4: loan capacity = risk compensation fund x leverage; utilisation over all loans.
        cast({{ var('risk_fund') }} * {{ var('risk_fund_leverage') }} as decimal(18, 2)) as fund_capacity,
        {{ exact_ratio(
            'outstanding_balance + entity_outstanding_balance',
            var('risk_fund') ~ ' * ' ~ var('risk_fund_leverage')
        ) }} as fund_utilisation,
        cast(guarantee_fund_balance as decimal(18, 2)) as guarantee_fund_balance,
        cast(loans_disbursed_in_month as integer) as loans_disbursed_in_month,
        cast(amount_disbursed_in_month as decimal(18, 2)) as amount_disbursed_in_month,
        cast(loans_written_off as integer) as loans_written_off,
        cast(written_off_principal as decimal(18, 2)) as written_off_principal,
        -- R-M3: losses shared 30% district, 20% bank, 50% insurer.
        cast(written_off_principal * {{ var('loss_share_district_pct') }} / 100 as decimal(18, 2))
            as loss_district_share,
        cast(written_off_principal * {{ var('loss_share_bank_pct') }} / 100 as decimal(18, 2))
            as loss_bank_share,
        cast(written_off_principal * {{ var('loss_share_insurer_pct') }} / 100 as decimal(18, 2))
            as loss_insurer_share,
        cast(poor_interest_subsidy_in_month as decimal(18, 2)) as poor_interest_subsidy_in_month,
        cast(entity_interest_subsidy_in_month as decimal(18, 2)) as entity_interest_subsidy_in_month,
        cast(villages_total as integer) as villages_total,
        cast(villages_tripped as integer) as villages_tripped,
        cast(villages_watch as integer) as villages_watch,
        cast(townships_total as integer) as townships_total,
        cast(townships_tripped as integer) as townships_tripped,
        cast(title_year as integer) as title_year,
        cast(credit_villages as integer) as credit_villages,
        cast(credit_townships as integer) as credit_townships,
        cast(entity_amount_on_book as decimal(18, 2)) as entity_amount_on_book,
        cast(entity_principal_days_in_month as decimal(38, 2)) as entity_principal_days_in_month
{%- endmacro %}
