{#- A fingerprint of a list of expressions, for telling whether a stored row still matches its source.
    Null-aware (null differs from '' and from any value). DuckDB: its 64-bit hash, fast and typed; Postgres: md5 of the
    row's text form. Only ever compared with fingerprints made by this macro on the same engine. -#}

{% macro row_fingerprint(expressions) -%}
    {{ return(adapter.dispatch('row_fingerprint', 'salesdw')(expressions)) }}
{%- endmacro %}
{% macro default__row_fingerprint(expressions) -%}
    hash({{ expressions | join(', ') }})
{%- endmacro %}
{#- Spark: xxhash64 skips nulls, so each value is followed by whether it is null: (null, 'x') and ('x', null)
    differ, and null differs from ''. -#}
{% macro spark__row_fingerprint(expressions) -%}
    xxhash64(
    {%- for e in expressions %}{{ e }}, {{ e }} is null{{ ", " if not loop.last }}{% endfor -%}
    )
{%- endmacro %}
{% macro postgres__row_fingerprint(expressions) -%}
    md5(cast(row({{ expressions | join(', ') }}) as text))
{%- endmacro %}
