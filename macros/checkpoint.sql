{#- post-hook of every model that writes a table (dbt_project.yml): checkpoint the build's file once
    the model has committed, before any later model or data test reads it. DuckDB 2.0 can answer a
    query on rows a just-committed transaction deleted and appended in the same table from a stale
    view until they are checkpointed: at 1,000,000 households the key test of household_scores saw
    no row on the month a monthly build had just appended (and, with two dbt threads, the whole
    table of a full build as empty), while the same query on the finished file found every row.
    The rows have to reach the file anyway, so the checkpoint mostly moves that write earlier. -#}
{% macro checkpoint_written() -%}
    {%- if model.config.materialized != 'view' -%}
        checkpoint
    {%- endif -%}
{%- endmacro %}
