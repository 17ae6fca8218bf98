{#- A table materialization for the big marts (80M rows at 1M households): the model's rows are
    written one year of as_of at a time, in order. Each year is its own statement, so DuckDB pushes
    the year filter into the model's inputs and computes (and holds in memory) one year only, and
    the table comes out clustered by as_of without sorting it: the dashboard's as_of filters skip
    the other years by zone maps. Config `sort_by` orders the rows within each year (a year is small
    enough to sort in memory), so a village's or a household's rows are found by zone maps too; a
    model may instead end with its own order by (the year's filter reaches below it).
    Catch-all slices before the first and after the last year make
    sure no row can be lost. Otherwise it behaves like dbt-duckdb's table materialization: build
    into an intermediate relation, then swap it in; contracts are enforced by create_table_as.
    In a monthly increment (var incremental_from, macros/incremental.sql) only the rows from that
    date on are deleted and written again. -#}

{% macro year_slices(column, from_year=none) -%}
    {%- set first_year = from_year or (var('data_start') or '2017-01-01')[:4] | int -%}
    {%- set last_year = (var('as_of') or '2030-12-31')[:4] | int -%}
    {%- set slices = [column ~ " < date '" ~ first_year ~ "-01-01'"] -%}
    {%- for year in range(first_year, last_year + 1) -%}
        {%- do slices.append(
            column ~ " >= date '" ~ year ~ "-01-01' and " ~ column ~ " < date '" ~ (year + 1) ~ "-01-01'"
        ) -%}
    {%- endfor -%}
    {%- do slices.append(column ~ " >= date '" ~ (last_year + 1) ~ "-01-01'") -%}
    {{ return(slices) }}
{%- endmacro %}

{% materialization clustered_table, adapter="duckdb" %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set cluster_by = config.get('cluster_by', 'as_of') -%}
    {%- set sort_by = config.get('sort_by') -%}
    {%- set order_clause = (' order by ' ~ (sort_by | join(', '))) if sort_by else '' -%}
    {%- set increment_from = var('incremental_from') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {% if existing_relation is not none and increment_from and not should_full_refresh() %}
        {#- A monthly increment (macros/incremental.sql): replace the rows it rebuilds — the dates
            from incremental_from on, year by year from its year; then, when households moved,
            each part of the earlier rows their move changes, by itself (a predicate with constant
            lists reaches the model's inputs, an "or" of them would not). Column references are
            qualified: the predicates may hold subqueries with the same names. -#}
        {%- set rebuild_by = config.get('rebuild_by', {}) -%}
        {%- set target_name = target_relation.identifier -%}
        {%- set in_target = {} -%}
        {%- set in_model = {} -%}
        {%- for argument, column in rebuild_by.items() -%}
            {%- do in_target.update({argument: target_name ~ '.' ~ column}) -%}
            {%- do in_model.update({argument: 'model_rows.' ~ column}) -%}
        {%- endfor -%}
        {%- set from_date = "date '" ~ increment_from ~ "'" -%}
        {%- set target_parts = rebuilt_earlier_parts(target_name ~ '.' ~ cluster_by, **in_target) -%}
        {%- set model_parts = rebuilt_earlier_parts('model_rows.' ~ cluster_by, **in_model) -%}
        {#- One delete per part: each predicate alone reaches the scan, so the zone maps of the
            (clustered, sorted) table skip the row groups it cannot match; an "or" of them reads
            every row of the 100M. -#}
        {% call statement('main') -%}
            delete from {{ target_relation }}
            where {{ target_name }}.{{ cluster_by }} >= {{ from_date }}
        {%- endcall %}
        {% for part in target_parts %}
            {% call statement('delete_earlier_' ~ loop.index) -%}
                delete from {{ target_relation }}
                where {{ target_name }}.{{ cluster_by }} < {{ from_date }} and {{ part }}
            {%- endcall %}
        {% endfor %}
        {% for slice in year_slices('model_rows.' ~ cluster_by, increment_from[:4] | int) %}
            {% call statement('increment_' ~ loop.index) -%}
                insert into {{ target_relation }} by name
                select * from ({{ compiled_code }}) as model_rows
                where {{ slice }} and model_rows.{{ cluster_by }} >= {{ from_date }}{{ order_clause }}
            {%- endcall %}
        {% endfor %}
        {% for part in model_parts %}
            {% call statement('earlier_' ~ loop.index) -%}
                insert into {{ target_relation }} by name
                select * from ({{ compiled_code }}) as model_rows
                where model_rows.{{ cluster_by }} < {{ from_date }} and {{ part }}
                {%- for previous in model_parts[:loop.index0] %}
                    and not coalesce({{ previous }}, false)
                {%- endfor %}{{ order_clause }}
            {%- endcall %}
        {% endfor %}
        {{ run_hooks(post_hooks, inside_transaction=True) }}
        {{ adapter.commit() }}
    {% else %}
        {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
        {%- set backup_relation = make_backup_relation(
            target_relation, 'table' if existing_relation is none else existing_relation.type
        ) -%}
        {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
        {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}
        {%- set slices = year_slices(cluster_by) -%}
        {% call statement('main') -%}
            {{ create_table_as(
                False,
                intermediate_relation,
                'select * from (' ~ compiled_code ~ ') as model_rows where ' ~ slices[0] ~ order_clause
            ) }}
        {%- endcall %}
        {% for slice in slices[1:] %}
            {% call statement('slice_' ~ loop.index) -%}
                insert into {{ intermediate_relation }} by name
                select * from ({{ compiled_code }}) as model_rows where {{ slice }}{{ order_clause }}
            {%- endcall %}
        {% endfor %}
        {% if existing_relation is not none %}
            {{ adapter.rename_relation(existing_relation, backup_relation) }}
        {% endif %}
        {{ adapter.rename_relation(intermediate_relation, target_relation) }}
        {{ run_hooks(post_hooks, inside_transaction=True) }}
        {% do persist_docs(target_relation, model) %}
        {{ adapter.commit() }}
        {{ drop_relation_if_exists(backup_relation) }}
    {% endif %}

    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
