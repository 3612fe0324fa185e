{#- Every row balances: opening + Σ additions − Σ subtractions = closing, exactly (the columns are decimals or
    counts, so any difference is a real one). Lists the rows that do not, with the difference. -#}
{% test bridge_balances(model, opening, additions, subtractions, closing) %}
select
    *,
    {{ opening }}
    {%- for c in additions %} + {{ c }}{% endfor %}
    {%- for c in subtractions %} - {{ c }}{% endfor %} - {{ closing }} as bridge_difference
from {{ model }}
where
    {{ opening }}
    {%- for c in additions %} + {{ c }}{% endfor %}
    {%- for c in subtractions %} - {{ c }}{% endfor %} <> {{ closing }}
{% endtest %}
