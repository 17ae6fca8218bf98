{#- Monthly incremental builds. huinong.increment compares the new raw tables with the published
    warehouse's; when every change is dated after the last month-end it had (new payments, loans,
    collections and write-offs; nothing corrected in the past), the build copies the published
    warehouse, writes what the delivery touched into raw.touched_loans, raw.touched_households and
    raw.touched_townships, and passes var incremental_from = the first day after that month-end.
    Then:
    - per-loan and per-household models recompute only the touched keys (delete them, append anew);
    - per-date models recompute the dates from incremental_from on — and, when a household moved
      village (R-B1 rewrites its whole history), on every earlier date what the move changes: its
      own rows, the breakers of the villages it left and joined and of their townships, and the
      households whose credit stop (or its reason) that changed (var incremental_townships).
    In a full build (a fresh file) the relations do not exist yet and every model builds in full. -#}

{% macro is_monthly_increment() -%}
    {#- var first: is_incremental() cannot run where there is no relation (dbt unit tests). -#}
    {{ return(var('incremental_from') and is_incremental()) }}
{%- endmacro %}

{#- Filter for the inputs of a per-key model: only the touched keys in an increment (touched_key:
    the touched table's column, when it is named otherwise). -#}
{% macro touched(key, touched_table, touched_key=none) -%}
    {%- if is_monthly_increment() -%}
        {{ key }} in (
            select touched.{{ touched_key or key }} from {{ source('intake', touched_table) }} as touched
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The key column of a touched table (raw.touched_loans, raw.touched_households). -#}
{% macro touched_table_key(touched_table) -%}
    {{ {'touched_loans': 'loan_id', 'touched_households': 'household_id', 'collected_households': 'household_id'}[touched_table] }}
{%- endmacro %}

{#- pre_hook of a per-key model: remove the touched keys' rows before they are appended anew. -#}
{% macro delete_touched(key, touched_table) -%}
    {%- if is_monthly_increment() -%}
        delete from {{ this }}
        where {{ key }} in (select touched.{{ key }} from {{ source('intake', touched_table) }} as touched)
    {%- endif -%}
{%- endmacro %}

{#- int_household_timeline in a monthly build: the touched households whose periods before
    incremental_from stand (a temporary table, timeline_continued, with that period's running
    counts): those with a period in force on the day before that began earlier still, and that did
    not move village. Their periods from
    incremental_from on are recomputed; every other touched household's are, whole. -#}
{% macro timeline_continued() -%}
    {%- if is_monthly_increment() -%}
        {%- set month_from = "date '" ~ var('incremental_from') ~ "'" -%}
        create or replace temporary table timeline_continued as
        select
            kept.household_id,
            kept.outstanding_principal,
            kept.loans_on_book,
            kept.overdue_loans,
            kept.overdue_events_to_date,
            kept.npl_events_to_date,
            kept.collected_on,
            kept.collection_overdue_events_before,
            kept.collection_npl_events_before
        from {{ this }} as kept
        where
            kept.household_id in (select touched.household_id from {{ source('intake', 'touched_households') }} as touched)
            and kept.household_id not in (select moved.household_id from {{ source('intake', 'moved_households') }} as moved)
            and kept.valid_from < {{ month_from }} - 1
            and kept.valid_until >= {{ month_from }}
    {%- endif -%}
{%- endmacro %}

{#- Remove the periods int_household_timeline recomputes: a continued household's from
    incremental_from on, every period of the other touched households. -#}
{% macro delete_timeline_recomputed() -%}
    {%- if is_monthly_increment() -%}
        delete from {{ this }}
        where
            household_id in (select touched.household_id from {{ source('intake', 'touched_households') }} as touched)
            and (
                valid_from >= date '{{ var('incremental_from') }}'
                or household_id not in (select continued.household_id from timeline_continued as continued)
            )
    {%- endif -%}
{%- endmacro %}

{#- A continued household's period in force before incremental_from ends where its first
    recomputed period begins (or never, without one): a change expected after the month began
    may have gone (an instalment paid before it fell due). -#}
{% macro end_timeline_continued() -%}
    {%- if is_monthly_increment() -%}
        {%- set month_from = "date '" ~ var('incremental_from') ~ "'" -%}
        update {{ this }} as kept
        set valid_until = coalesce(following.valid_from, date '9999-12-31')
        from (
            select continued.household_id, min(later.valid_from) as valid_from
            from timeline_continued as continued
            left join {{ this }} as later
                on later.household_id = continued.household_id and later.valid_from >= {{ month_from }}
            group by continued.household_id
        ) as following
        where
            kept.household_id = following.household_id
            and kept.valid_from < {{ month_from }}
            and kept.valid_until >= {{ month_from }}
    {%- endif -%}
{%- endmacro %}

{#- The rows a per-date model rebuilds in an increment: the dates from incremental_from on, and,
    when households moved village (var incremental_townships), the rows their move changes on every
    earlier date, named by the arguments: their own rows (household, borrower), the villages they
    left or joined (village), those villages' townships (township), and the (village, date) pairs
    whose credit stop (or its reason) the move changed (stop_village). -#}
{% macro rebuilt(as_of_column, township=none, village=none, borrower=none, household=none, stop_village=none) -%}
    {%- if is_monthly_increment() -%}
        {{ rebuilt_predicate(as_of_column, township, village, borrower, household, stop_village) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro rebuilt_predicate(as_of_column, township=none, village=none, borrower=none, household=none, stop_village=none) -%}
    ({{ as_of_column }} >= date '{{ var('incremental_from') }}'
    {%- for part in rebuilt_earlier_parts(as_of_column, township, village, borrower, household, stop_village) %}
        or {{ part }}
    {%- endfor -%})
{%- endmacro %}

{#- The rows a move of households makes rebuild on every date (see rebuilt), one predicate each:
    with constant lists, not subqueries, so that DuckDB filters the model's inputs by them. -#}
{% macro rebuilt_earlier_parts(as_of_column, township=none, village=none, borrower=none, household=none, stop_village=none, home_village=none) -%}
    {%- set parts = [] -%}
    {%- if var('incremental_townships') -%}
        {%- if township -%}
            {%- do parts.append(township ~ ' in ' ~ touched_values(
                'select township_code from ' ~ source('intake', 'touched_townships'))) -%}
        {%- endif -%}
        {%- set touched_villages = touched_list(
            'select distinct village_code from ' ~ source('intake', 'touched_villages') ~ ' order by 1') -%}
        {%- if village -%}
            {%- do parts.append(among_codes(village, touched_villages)) -%}
        {%- endif -%}
        {%- for column in [borrower, household] if column -%}
            {#- A moved household's rows lie in the villages it left (before) or joined (after):
                the villages filter the scan first, on their dictionary (home_village: the
                relation's village column, when no village part is rebuilt). -#}
            {%- set village_column = village or stop_village or home_village -%}
            {%- set in_villages = among_codes(village_column, touched_villages) ~ ' and '
                if village_column else '' -%}
            {%- do parts.append('(' ~ in_villages ~ column ~ ' in ' ~ touched_values(
                'select household_id from ' ~ source('intake', 'moved_households')) ~ ')') -%}
        {%- endfor -%}
        {%- if stop_village -%}
            {#- The (village, date) pairs whose credit stop (or its reason) the move changed: the
                dates and the villages first, which reach the inputs, then the pairs. -#}
            {%- set changed = changed_credit_stops() -%}
            {%- do parts.append(
                '(' ~ as_of_column ~ ' in ' ~ touched_values('select distinct cast(as_of as varchar) from (' ~ changed ~ ')', 'date')
                ~ ' and ' ~ stop_village ~ ' in ' ~ touched_values('select distinct village_code from (' ~ changed ~ ')')
                ~ ' and ' ~ stop_village ~ " || '|' || cast(" ~ as_of_column ~ ' as varchar) in '
                ~ touched_values("select village_code || '|' || cast(as_of as varchar) from (" ~ changed ~ ')') ~ ')'
            ) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(parts) }}
{%- endmacro %}

{#- Whether a low-cardinality code column (villages) is one of `codes`. An `in` list of constants
    is only tried against zone maps, and the scan hands every row on (100M of household_scores,
    where the villages are spread over every row group); contains() over the codes is a filter of
    the scan itself, evaluated on the column's dictionary: only the villages' rows are read whole
    (kpi_village_monthly after a move at 1M households: 11.6 → 6 CPU-s). -#}
{% macro among_codes(column, codes) -%}
    {%- set listed = codes | join('') -%}
    {%- if codes | length == 0 or '|' in listed -%}
        {{ return(column ~ ' in ' ~ value_list(codes)) }}
    {%- endif -%}
    {{ return("contains('|" ~ (codes | join('|') | replace("'", "''")) ~ "|', '|' || " ~ column ~ " || '|')") }}
{%- endmacro %}

{#- The (village, as_of) pairs whose credit stop or its reason a move changed, as a query. -#}
{% macro changed_credit_stops() -%}
    {{ return('select new_stops.village_code, new_stops.as_of from '
        ~ ref('int_credit_stops') ~ ' as new_stops inner join '
        ~ source('intake', 'previous_credit_stops') ~ ' as old_stops'
        ~ ' on new_stops.village_code = old_stops.village_code and new_stops.as_of = old_stops.as_of'
        ~ ' where new_stops.credit_stopped <> old_stops.credit_stopped'
        ~ ' or new_stops.stop_reason is distinct from old_stops.stop_reason') }}
{%- endmacro %}

{#- The rows of a dated relation (`day_column`, e.g. payments) that a per-village model's rebuilt
    rows (see rebuilt: village, stop_village) can read, as a select: those from incremental_from
    on, filtered in the scan, and, after a move, the earlier ones whose `key_column` belongs, in
    `village_relation` (key_column, village_code), to a village rebuilt on earlier dates (left,
    joined, or with a changed credit stop). -#}
{% macro select_rebuilt_villages_days(relation, day_column, key_column, village_relation) -%}
    select * from {{ relation }}
    {%- if is_monthly_increment() %}
    where {{ day_column }} >= date '{{ var('incremental_from') }}'
        {%- if var('incremental_townships') %}
    union all
    select * from {{ relation }}
    where
        {{ day_column }} < date '{{ var('incremental_from') }}'
        and {{ key_column }} in (
            select by_village.{{ key_column }} from {{ village_relation }} as by_village
            where {{ among_codes('by_village.village_code', touched_list(
                'select village_code from ' ~ source('intake', 'touched_villages')
                ~ ' union select village_code from (' ~ changed_credit_stops() ~ ') order by 1')) }}
        )
        {%- endif %}
    {%- endif %}
{%- endmacro %}

{#- The first snapshot index of a loan's days that a monthly build recomputes (int_loan_days): the
    first snapshot from incremental_from on; every day (0) of a loan of a household that moved or
    of a village one left or joined; 0 in a full build. -#}
{% macro first_recomputed_loan_day(borrower_id, village_code) -%}
    {%- if var('incremental_from') -%}
        case
            when {{ loan_of_a_move(borrower_id, village_code) }} then 0
            else {{ first_snapshot_on_or_after("date '" ~ var('incremental_from') ~ "'") }}
        end
    {%- else -%}
        0
    {%- endif -%}
{%- endmacro %}

{#- Whether a loan's whole history is recomputed after a move: its borrower moved, or its village
    is one a household left or joined. -#}
{% macro loan_of_a_move(borrower_id, village_code) -%}
    ({{ borrower_id }} in (select moved.household_id from {{ source('intake', 'moved_households') }} as moved)
    or {{ village_code }} in (select touched.village_code from {{ source('intake', 'touched_villages') }} as touched))
{%- endmacro %}

{#- The loan states (int_loan_changes) whose days a monthly build recomputes (int_loan_days), as a
    select: those in force after incremental_from — filtered in the scan — and, when households
    moved, every state of their loans and of the loans of the villages they left or joined. -#}
{% macro select_recomputed_loan_changes(changes, loans) -%}
    select * from {{ changes }}
    {%- if var('incremental_from') %}
    where valid_until > date '{{ var('incremental_from') }}'
        {%- if var('incremental_townships') %}
    union all
    select * from {{ changes }}
    where
        valid_until <= date '{{ var('incremental_from') }}'
        and loan_id in (
            select loans.loan_id from {{ loans }} as loans
            where {{ loan_of_a_move('loans.borrower_id', 'loans.village_code') }}
        )
        {%- endif %}
    {%- endif %}
{%- endmacro %}

{#- The values of a query's first column (none while dbt parses). -#}
{% macro touched_list(query) -%}
    {{ return(run_query(query).columns[0].values() if execute else []) }}
{%- endmacro %}

{#- The values a query returns (a monthly build's touched keys), as an SQL list literal: ('a', 'b'),
    or (null) when there are none, so that `x in` it is never true. -#}
{% macro touched_values(query, type='varchar') -%}
    {{ value_list(touched_list(query), type) }}
{%- endmacro %}

{% macro value_list(values, type='varchar') -%}
    {%- if values | length == 0 -%}
        (null)
    {%- else -%}
        ({%- for value in values -%}
            {{ 'date ' if type == 'date' else '' }}'{{ value | string | replace("'", "''") }}'
            {%- if not loop.last %}, {% endif -%}
        {%- endfor -%})
    {%- endif -%}
{%- endmacro %}

{#- The rows of a big relation that a per-date model rebuilds from (see rebuilt), as a select: the
    dates from incremental_from on, then the earlier rows a move changes, each part by itself, so
    that DuckDB filters the relation's scan by each (an "or" of them reads every row). -#}
{% macro select_rebuilt(relation, as_of_column, township=none, village=none, borrower=none, household=none, stop_village=none) -%}
    select * from {{ relation }}
    {%- if is_monthly_increment() %}
    where {{ as_of_column }} >= date '{{ var('incremental_from') }}'
        {%- set parts = rebuilt_earlier_parts(as_of_column, township, village, borrower, household, stop_village) %}
        {%- for part in parts %}
    union all
    select * from {{ relation }}
    where
        {{ as_of_column }} < date '{{ var('incremental_from') }}' and {{ part }}
            {%- for previous in parts[:loop.index0] %}
        and not coalesce({{ previous }}, false)
            {%- endfor %}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}

{#- pre_hook of a per-date model: remove the rows it rebuilds (including the previous build's
    provisional as-of date) before they are appended anew. -#}
{% macro delete_rebuilt(as_of_column='as_of', township=none, village=none, borrower=none, household=none, stop_village=none) -%}
    {%- if is_monthly_increment() -%}
        delete from {{ this }}
        where {{ rebuilt_predicate(as_of_column, township, village, borrower, household, stop_village) }}
    {%- endif -%}
{%- endmacro %}

{#- The loans whose compliance checks (loan_compliance) a monthly build judges again: the loans it
    touched, every loan of the households it touched (their ratings and villages may have changed),
    the loans disbursed from incremental_from on, and — when households moved — every loan of the
    townships whose breakers it rebuilt (R-X3 reads their credit stops). -#}
{% macro rejudged_loans(loan_id, borrower_id, disbursed_on, township_code) -%}
    {%- if is_monthly_increment() -%}
        {{ rejudged_loans_predicate(loan_id, borrower_id, disbursed_on, township_code) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro rejudged_loans_predicate(loan_id, borrower_id, disbursed_on, township_code) -%}
        ({{ loan_id }} in (select touched.loan_id from {{ source('intake', 'touched_loans') }} as touched)
        or {{ borrower_id }} in (
            select touched.household_id from {{ source('intake', 'touched_households') }} as touched
        )
        or {{ disbursed_on }} >= date '{{ var('incremental_from') }}'
        {%- for part in rebuilt_earlier_parts(disbursed_on, township=township_code) %}
        or {{ part }}
        {%- endfor -%})
{%- endmacro %}

{#- pre_hook of loan_compliance: remove the loans it judges again. -#}
{% macro delete_rejudged_loans() -%}
    {%- if is_monthly_increment() -%}
        delete from {{ this }}
        where {{ rejudged_loans('loan_id', 'borrower_id', 'disbursed_on', 'township_code') }}
    {%- endif -%}
{%- endmacro %}

{#- pre_hook of kpi_monthly: the rebuilt townships' rows, and the district's rows they add up to. -#}
{% macro delete_rebuilt_kpi() -%}
    {%- if is_monthly_increment() -%}
        delete from {{ this }}
        where
            (scope_level = 'township' and {{ rebuilt('as_of', township='scope_code') }})
            or (scope_level = 'district'
            {%- if not var('incremental_townships') %}
                and as_of >= date '{{ var('incremental_from') }}'
            {%- endif -%})
    {%- endif -%}
{%- endmacro %}
