{#- Every month from a first month to the as-of date, with the day its values are measured on: the month's
    last day, or the as-of date for the running month. `bounds` is a CTE with one row and the column
    `first_month`. One definition, because MRR per subscription and per customer must use the same months. -#}
{% macro month_spine(bounds, first_month='first_month') %}
    select
        cast(series.generate_series as date) as month,
        least(
            cast({{ dbt.dateadd('day', '-1', dbt.dateadd('month', '1', 'cast(series.generate_series as date)')) }} as date),
            {{ as_of_date() }}
        ) as measured_on
    from {{ bounds }}
    {{ series_join(
        'cast(' ~ bounds ~ '.' ~ first_month ~ ' as timestamp)', 'cast(' ~ as_of_date() ~ ' as timestamp)', '1 month'
    ) }}
{% endmacro %}
