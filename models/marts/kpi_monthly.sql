-- Contract mart: the leading group's figures for the whole district and for each township at
-- every snapshot date. Credit figures (R-C1, R-C2), the household loan book and its overdue and NPL
-- rates (R-L3, R-B1; the breaker is over household loans), entity loans (R-M2), breakers (R-B2),
-- titles (R-T1, R-T2), and the money flows (R-M1..R-M5). Amounts in 元.
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_rebuilt_kpi() }}",
) }}


-- depends_on: {{ source('intake', 'touched_townships') }}

with

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

scores as (
    select * from {{ ref('household_scores') }}
    where {{ rebuilt('as_of', township='township_code') }}
),

loans as (
    select * from {{ ref('loan_status') }}
    where {{ rebuilt('as_of', township='township_code') }}
),

loan_book as (
    select * from {{ ref('int_loans_summarised') }}
),

payment_days as (
    select * from {{ ref('int_payment_days') }}
),

repayments as (
    select * from {{ ref('stg_bank__repayments') }}
),

village_breaker as (
    select * from {{ ref('village_breaker') }}
),

township_breaker as (
    select * from {{ ref('township_breaker') }}
),

titles as (
    select * from {{ ref('int_titles_to_date') }}
),

townships as (
    select distinct
        township_code,
        township_name
    from {{ ref('stg_divisions__villages') }}
),

credit as (
    select
        township_code,
        as_of,
        count(*) as households_rated,
        count(*) filter (where grade = 'AAA+') as households_aaa_plus,
        count(*) filter (where grade = 'AAA') as households_aaa,
        count(*) filter (where grade = 'AA') as households_aa,
        count(*) filter (where grade = 'A') as households_a,
        count(*) filter (where grade = '{{ var('no_credit_grade') }}') as households_no_credit,
        count(*) filter (where credit_limit > 0) as households_credit,
        count(*) filter (where registered_poor) as poor_households_rated,
        count(*) filter (where registered_poor and credit_limit > 0) as poor_households_credit,
        count(*) filter (where registered_poor and loans_on_book > 0) as poor_borrowing_households,
        count(*) filter (where len(vetoes) > 0) as households_vetoed,
        count(*) filter (where credit_stopped) as households_credit_stopped,
        sum(credit_limit) as credit_granted,
        sum(available_credit) as available_credit
    from scores
    group by township_code, as_of
),

book as (
    select
        township_code,
        as_of,
        count(*) filter (where borrower_type = '农户') as household_loans_on_book,
        count(distinct borrower_id) filter (where borrower_type = '农户') as borrowing_households,
        coalesce(sum(outstanding_principal) filter (where borrower_type = '农户'), 0)
            as outstanding_balance,
        coalesce(sum(outstanding_principal) filter (where borrower_type = '农户' and is_overdue), 0)
            as overdue_balance,
        coalesce(sum(outstanding_principal) filter (where borrower_type = '农户' and is_npl), 0)
            as npl_balance,
        count(*) filter (where borrower_type = '经营主体') as entity_loans_on_book,
        coalesce(sum(outstanding_principal) filter (where borrower_type = '经营主体'), 0)
            as entity_outstanding_balance,
        -- R-M5: entities pay 10% of their loan amount into the mutual guarantee fund.
        coalesce(sum(amount) filter (where borrower_type = '经营主体'), 0)
        * {{ var('guarantee_fund_pct') }} / 100 as guarantee_fund_balance
    from loans
    group by township_code, as_of
),

-- Loans disbursed in the month of as_of (month to date for a provisional as_of).
disbursements as (
    select
        loan_book.township_code,
        snapshots.as_of,
        count(*) as loans_disbursed_in_month,
        sum(loan_book.amount) as amount_disbursed_in_month
    from loan_book
    inner join snapshots
        on
            loan_book.disbursed_on <= snapshots.as_of
            and loan_book.disbursed_on >= date_trunc('month', snapshots.as_of)
    group by loan_book.township_code, snapshots.as_of
),

-- R-M3: a written-off loan's loss is its outstanding principal at write-off, shared 30/20/50.
write_offs as (
    select
        loan_book.loan_id,
        loan_book.township_code,
        loan_book.written_off_on,
        loan_book.amount - coalesce(principal_to_date.cumulative_principal_paid, 0) as loss
    from loan_book
    asof left join payment_days as principal_to_date
        on
            loan_book.loan_id = principal_to_date.loan_id
            and loan_book.written_off_on >= principal_to_date.paid_on
    where loan_book.written_off_on is not null
),

losses as (
    select
        write_offs.township_code,
        snapshots.as_of,
        count(*) as loans_written_off,
        sum(write_offs.loss) as written_off_principal
    from write_offs
    inner join snapshots on write_offs.written_off_on <= snapshots.as_of
    group by write_offs.township_code, snapshots.as_of
),

-- R-M1: registered-poor households' loans are fully subsidised: the interest they paid in the
-- month of as_of is the subsidy.
poor_borrowers as (
    select distinct
        household_id,
        as_of
    from scores
    where registered_poor
),

poor_interest as (
    select
        loan_book.township_code,
        snapshots.as_of,
        sum(repayments.interest_paid) as poor_interest_subsidy_in_month
    from repayments
    inner join loan_book on repayments.loan_id = loan_book.loan_id
    inner join snapshots
        on
            repayments.paid_on <= snapshots.as_of
            and repayments.paid_on >= date_trunc('month', snapshots.as_of)
    inner join poor_borrowers
        on
            loan_book.borrower_id = poor_borrowers.household_id
            and snapshots.as_of = poor_borrowers.as_of
    where loan_book.is_household_loan
    group by loan_book.township_code, snapshots.as_of
),

-- R-M2: entities get 3% a year on outstanding principal, actual/360, day by day in the month.
entity_loans as (
    select * from loan_book
    where borrower_type = '经营主体'
),

entity_principal_changes as (
    select
        loan_id,
        disbursed_on as step_on,
        0 as principal_paid
    from entity_loans
    union all
    select
        payment_days.loan_id,
        payment_days.paid_on as step_on,
        payment_days.principal_paid
    from payment_days
    inner join entity_loans on payment_days.loan_id = entity_loans.loan_id
    where payment_days.paid_on > entity_loans.disbursed_on
),

entity_principal_steps as (
    select
        entity_loans.loan_id,
        entity_loans.township_code,
        entity_loans.written_off_on,
        entity_principal_changes.step_on,
        entity_loans.amount - sum(entity_principal_changes.principal_paid) over loan_steps
            as outstanding_from,
        lead(entity_principal_changes.step_on) over loan_steps as outstanding_until
    from entity_loans
    inner join entity_principal_changes on entity_loans.loan_id = entity_principal_changes.loan_id
    window loan_steps as (
        partition by entity_loans.loan_id
        order by entity_principal_changes.step_on
        rows between unbounded preceding and current row
    )
),

entity_subsidy as (
    select
        entity_principal_steps.township_code,
        snapshots.as_of,
        -- Rounded per township to the fen, so the district is the sum of its townships.
        cast(sum(
            entity_principal_steps.outstanding_from
            * {{ var('entity_subsidy_rate_pct') }} / 100 / {{ var('entity_subsidy_day_basis') }}
            * (
                least(
                    coalesce(entity_principal_steps.outstanding_until, date '9999-12-31'),
                    coalesce(entity_principal_steps.written_off_on, date '9999-12-31'),
                    snapshots.as_of + 1
                )
                - greatest(entity_principal_steps.step_on, cast(date_trunc('month', snapshots.as_of) as date))
            )
        ) as decimal(18, 2)) as entity_interest_subsidy_in_month
    from entity_principal_steps
    inner join snapshots
        on
            entity_principal_steps.step_on <= snapshots.as_of
            and coalesce(entity_principal_steps.outstanding_until, date '9999-12-31')
            > date_trunc('month', snapshots.as_of)
            and coalesce(entity_principal_steps.written_off_on, date '9999-12-31')
            > date_trunc('month', snapshots.as_of)
    where entity_principal_steps.outstanding_from > {{ var('book_min_outstanding') }}
    group by entity_principal_steps.township_code, snapshots.as_of
),

breakers as (
    select
        township_code,
        as_of,
        count(*) as villages_total,
        count(*) filter (where tripped) as villages_tripped,
        count(*) filter (where watch) as villages_watch
    from village_breaker
    group by township_code, as_of
),

title_counts as (
    select
        snapshots.as_of,
        titles.township_code,
        titles.title_year,
        count(*) filter (where titles.scope_level = 'village' and titles.holds_title) as credit_villages,
        count(*) filter (where titles.scope_level = 'township' and titles.holds_title)
            as credit_townships
    from snapshots
    inner join titles on snapshots.breaker_month_end = titles.as_of
    group by snapshots.as_of, titles.township_code, titles.title_year
),

township_rows as (
    select
        'township' as scope_level,
        townships.township_code as scope_code,
        townships.township_name as scope_name,
        snapshots.as_of,
        snapshots.is_month_end,
        coalesce(credit.households_rated, 0) as households_rated,
        coalesce(credit.households_aaa_plus, 0) as households_aaa_plus,
        coalesce(credit.households_aaa, 0) as households_aaa,
        coalesce(credit.households_aa, 0) as households_aa,
        coalesce(credit.households_a, 0) as households_a,
        coalesce(credit.households_no_credit, 0) as households_no_credit,
        coalesce(credit.households_credit, 0) as households_credit,
        coalesce(credit.poor_households_rated, 0) as poor_households_rated,
        coalesce(credit.poor_households_credit, 0) as poor_households_credit,
        coalesce(credit.poor_borrowing_households, 0) as poor_borrowing_households,
        coalesce(credit.households_vetoed, 0) as households_vetoed,
        coalesce(credit.households_credit_stopped, 0) as households_credit_stopped,
        coalesce(credit.credit_granted, 0) as credit_granted,
        coalesce(credit.available_credit, 0) as available_credit,
        coalesce(book.borrowing_households, 0) as borrowing_households,
        coalesce(book.household_loans_on_book, 0) as household_loans_on_book,
        coalesce(book.outstanding_balance, 0) as outstanding_balance,
        coalesce(book.overdue_balance, 0) as overdue_balance,
        coalesce(book.npl_balance, 0) as npl_balance,
        coalesce(book.entity_loans_on_book, 0) as entity_loans_on_book,
        coalesce(book.entity_outstanding_balance, 0) as entity_outstanding_balance,
        coalesce(book.guarantee_fund_balance, 0) as guarantee_fund_balance,
        coalesce(disbursements.loans_disbursed_in_month, 0) as loans_disbursed_in_month,
        coalesce(disbursements.amount_disbursed_in_month, 0) as amount_disbursed_in_month,
        coalesce(losses.loans_written_off, 0) as loans_written_off,
        coalesce(losses.written_off_principal, 0) as written_off_principal,
        coalesce(poor_interest.poor_interest_subsidy_in_month, 0) as poor_interest_subsidy_in_month,
        coalesce(entity_subsidy.entity_interest_subsidy_in_month, 0)
            as entity_interest_subsidy_in_month,
        coalesce(breakers.villages_total, 0) as villages_total,
        coalesce(breakers.villages_tripped, 0) as villages_tripped,
        coalesce(breakers.villages_watch, 0) as villages_watch,
        1 as townships_total,
        cast(coalesce(township_breaker.tripped, false) as integer) as townships_tripped,
        title_counts.title_year,
        coalesce(title_counts.credit_villages, 0) as credit_villages,
        coalesce(title_counts.credit_townships, 0) as credit_townships
    from townships
    cross join snapshots
    left join credit using (township_code, as_of)
    left join book using (township_code, as_of)
    left join disbursements using (township_code, as_of)
    left join losses using (township_code, as_of)
    left join poor_interest using (township_code, as_of)
    left join entity_subsidy using (township_code, as_of)
    left join breakers using (township_code, as_of)
    left join township_breaker using (township_code, as_of)
    left join title_counts using (township_code, as_of)
    where {{ rebuilt('snapshots.as_of', township='townships.township_code') }}
),

-- The district adds up all townships: in a monthly increment, the rebuilt townships' rows and
-- the rows kept from the published warehouse.
all_township_rows as (
    select * from township_rows
    {%- if is_monthly_increment() %}
    union all by name  -- noqa: LT02
    select * from {{ this }}  -- noqa: LT02
    where scope_level = 'township'  -- noqa: LT02
    {%- endif %}
),

district_rows as (
    select
        'district' as scope_level,
        '{{ var('district_code') }}' as scope_code,
        '{{ var('district_name') }}' as scope_name,
        as_of,
        any_value(is_month_end) as is_month_end,
        {%- for column in [
            'households_rated', 'households_aaa_plus', 'households_aaa', 'households_aa',
            'households_a', 'households_no_credit', 'households_credit', 'poor_households_rated',
            'poor_households_credit', 'poor_borrowing_households', 'households_vetoed',
            'households_credit_stopped', 'credit_granted', 'available_credit',
            'borrowing_households', 'household_loans_on_book', 'outstanding_balance',
            'overdue_balance', 'npl_balance', 'entity_loans_on_book', 'entity_outstanding_balance',
            'guarantee_fund_balance', 'loans_disbursed_in_month', 'amount_disbursed_in_month',
            'loans_written_off', 'written_off_principal', 'poor_interest_subsidy_in_month',
            'entity_interest_subsidy_in_month', 'villages_total', 'villages_tripped',
            'villages_watch', 'townships_total', 'townships_tripped'] %}
            sum({{ column }}) as {{ column }},
        {%- endfor %}
        max(title_year) as title_year,
        sum(credit_villages) as credit_villages,
        sum(credit_townships) as credit_townships
    from all_township_rows
    {%- if is_monthly_increment() and not var('incremental_townships') %}
    where as_of >= date '{{ var('incremental_from') }}'  -- noqa: LT02
    {%- endif %}
    group by as_of
),

all_rows as (
    select * from district_rows
    union all by name
    select * from township_rows
),

final as (
    select
        scope_level,
        scope_code,
        scope_name,
        as_of,
        is_month_end,
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
        {{ exact_ratio('poor_borrowing_households', 'poor_households_rated') }} as poor_loan_access_rate,
        cast(credit_granted as decimal(18, 2)) as credit_granted,
        cast(available_credit as decimal(18, 2)) as available_credit,
        cast(borrowing_households as integer) as borrowing_households,
        cast(household_loans_on_book as integer) as household_loans_on_book,
        cast(outstanding_balance as decimal(18, 2)) as outstanding_balance,
        cast(overdue_balance as decimal(18, 2)) as overdue_balance,
        cast(npl_balance as decimal(18, 2)) as npl_balance,
        {{ exact_ratio('overdue_balance', 'outstanding_balance') }} as overdue_rate,
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
        cast(credit_townships as integer) as credit_townships
    from all_rows
)

select * from final
order by as_of, scope_level, scope_code
