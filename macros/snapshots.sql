{#- Snapshot dates (int_snapshot_dates) are one a calendar month: its month-end, or the build's as-of
    date in the as-of month. So they are numbered by month (snapshot_index 0 .. snapshots - 1), and
    "the first snapshot date on or after a day" is that day's month counted from the first snapshot's
    month: a range of days becomes a range of indexes, expanded with range(), never a join of every
    row with the snapshot list by date range. -#}

{#- One row: the first and last snapshot dates and how many there are. -#}
{% macro snapshot_range(snapshots) -%}
    select
        min(as_of) as first_as_of,
        max(as_of) as last_as_of,
        count(*) as snapshots
    from {{ snapshots }}
{%- endmacro %}

{#- The index of a snapshot date (int_snapshot_dates.snapshot_index). -#}
{% macro snapshot_index_of(as_of, range='snapshot_range') -%}
    cast(datediff('month', {{ range }}.first_as_of, {{ as_of }}) as integer)
{%- endmacro %}

{#- The index of the first snapshot date on or after `day`; the number of snapshots after the last. -#}
{% macro first_snapshot_on_or_after(day, range='snapshot_range') -%}
    case
        when {{ day }} > {{ range }}.last_as_of then cast({{ range }}.snapshots as integer)
        else greatest({{ snapshot_index_of(day, range) }}, 0)
    end
{%- endmacro %}
