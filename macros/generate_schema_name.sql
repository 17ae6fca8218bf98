{#- Staging and intermediate models get their own schemas by name; the contract marts stay in main,
    where the dashboard and outside checks read them. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
