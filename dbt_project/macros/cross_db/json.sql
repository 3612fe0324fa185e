{#- JSON access that reads the same on DuckDB (JSON type, JSONPath strings) and Postgres (jsonb, path arrays).
    Paths are written once, DuckDB-style ('$.price.recurring.interval', '$.data[0].id'); Postgres gets
    '{price,recurring,interval}' / '{data,0,id}'. Keys and fixed array positions only: every element of an
    array goes through json_array_elements / json_array_text_elements. -#}

{% macro _pg_json_path(path) -%}
    {%- set p = path | trim -%}
    {%- set m = modules.re.fullmatch('\\$((\\.[A-Za-z_][A-Za-z0-9_]*|\\[[0-9]+\\])+)', p) -%}
    {%- if not m -%}
        {{ exceptions.raise_compiler_error("cross_db JSON path must be '$' then '.key' or '[n]' steps, got '" ~ path ~ "'") }}
    {%- endif -%}
    {%- set steps = modules.re.findall('\\.([A-Za-z_][A-Za-z0-9_]*)|\\[([0-9]+)\\]', p) -%}
    '{ {{- steps | map('join', '') | join(',') -}} }'
{%- endmacro %}

{#- A scalar at `path` as text (a string without its quotes; null when absent). -#}
{% macro json_text(obj, path) -%}
    {%- if obj is mapping -%}
        {{ return('(' ~ _json_read_at(obj, path) ~ " ->> '$')") }}
    {%- endif -%}
    {{ return(adapter.dispatch('json_text', 'salesdw')(obj, path)) }}
{%- endmacro %}
{% macro default__json_text(obj, path) -%}
    json_extract_string({{ obj }}, '{{ path }}')
{%- endmacro %}
{% macro postgres__json_text(obj, path) -%}
    ({{ obj }} #>> {{ _pg_json_path(path) }})
{%- endmacro %}

{#- A scalar at `path` cast to `type` (numbers, booleans). -#}
{% macro json_value_as(obj, path, type) -%}
    {%- if obj is mapping -%}
        {{ return('cast(' ~ _json_read_at(obj, path) ~ ' as ' ~ type ~ ')') }}
    {%- endif -%}
    {{ return(adapter.dispatch('json_value_as', 'salesdw')(obj, path, type)) }}
{%- endmacro %}
{% macro default__json_value_as(obj, path, type) -%}
    cast(json_extract({{ obj }}, '{{ path }}') as {{ type }})
{%- endmacro %}
{% macro postgres__json_value_as(obj, path, type) -%}
    cast(({{ obj }} #>> {{ _pg_json_path(path) }}) as {{ type }})
{%- endmacro %}

{#- True when the value at `path` is a JSON string (Stripe sends an id there instead of an expanded object). -#}
{% macro json_is_string(obj, path) -%}
    {%- if obj is mapping -%}
        {{ return('json_type(' ~ _json_read_at(obj, path) ~ ") = 'VARCHAR'") }}
    {%- endif -%}
    {{ return(adapter.dispatch('json_is_string', 'salesdw')(obj, path)) }}
{%- endmacro %}
{% macro default__json_is_string(obj, path) -%}
    json_type({{ obj }}, '{{ path }}') = 'VARCHAR'
{%- endmacro %}
{% macro postgres__json_is_string(obj, path) -%}
    jsonb_typeof({{ obj }} #> {{ _pg_json_path(path) }}) = 'string'
{%- endmacro %}

{#- One JSON column read at many paths, parsed once. DuckDB parses a JSON value again for every json_extract, so a
    model reading one column at dozens of paths (an invoice line: 33) spends most of its time parsing. On DuckDB,
    json_reader('line') is a handle that json_text, json_value_as and json_is_string take in place of the column:
    each read records its path and becomes an element of one list that json_reader_list extracts in a single
    json_extract. Each element is the value at its path as json_extract(column, path) returns it, written anew: text,
    numbers and booleans read the same, though json_type of a number can differ (-0 reads UBIGINT once written as 0);
    json_is_string only asks whether it is a string. Render the reads first (a {% set %} block), then select
    json_reader_list(handle) beside the column in the CTE before them.
    On every other target the handle is the column itself and json_reader_list adds nothing. -#}
{% macro json_reader(column) -%}
    {{ return(adapter.dispatch('json_reader', 'salesdw')(column)) }}
{%- endmacro %}
{% macro default__json_reader(column) -%}
    {{ return(column) }}
{%- endmacro %}
{% macro duckdb__json_reader(column) -%}
    {{ return({'column': column, 'list': column ~ '__read', 'paths': []}) }}
{%- endmacro %}

{#- `, json_extract(column, [every path read]) as <column>__read` for a json_reader handle; empty otherwise. -#}
{% macro json_reader_list(reader) -%}
    {%- if reader is mapping and reader.paths -%}
        , json_extract({{ reader.column }}, [{% for p in reader.paths %}'{{ p }}'{{ ', ' if not loop.last }}{% endfor %}]) as {{ reader.list }}
    {%- endif -%}
{%- endmacro %}

{#- The element of a json_reader's list holding the value at `path` (recorded on first use). -#}
{% macro _json_read_at(reader, path) -%}
    {%- if path not in reader.paths -%}
        {%- do reader.paths.append(path) -%}
    {%- endif -%}
    {{ return(reader.list ~ '[' ~ (reader.paths.index(path) + 1) ~ ']') }}
{%- endmacro %}

{#- The number of elements of the JSON array `obj` (null when it is null or not an array). -#}
{% macro json_list_length(obj) -%}
    {{ return(adapter.dispatch('json_list_length', 'salesdw')(obj)) }}
{%- endmacro %}
{% macro default__json_list_length(obj) -%}
    case when json_type({{ obj }}) = 'ARRAY' then json_array_length({{ obj }}) end
{%- endmacro %}
{% macro postgres__json_list_length(obj) -%}
    case when jsonb_typeof({{ obj }}) = 'array' then jsonb_array_length({{ obj }}) end
{%- endmacro %}
{#- Spark: null for anything that is not a JSON array. -#}
{% macro spark__json_list_length(obj) -%}
    json_array_length({{ obj }})
{%- endmacro %}

{#- Select-list expression: one row per element of the JSON array at `path` (none for null or missing). -#}
{% macro json_array_elements(obj, path) -%}
    {{ return(adapter.dispatch('json_array_elements', 'salesdw')(obj, path)) }}
{%- endmacro %}
{% macro default__json_array_elements(obj, path) -%}
    unnest(cast(json_extract({{ obj }}, '{{ path }}[*]') as json[]))
{%- endmacro %}
{% macro postgres__json_array_elements(obj, path) -%}
    jsonb_array_elements({{ obj }} #> {{ _pg_json_path(path) }})
{%- endmacro %}

{#- A subquery: (id_column, position 1.., element as text) for every element of the top-level JSON array
    `array_column` of `relation`. Rows with a null or empty array yield nothing. -#}
{% macro json_array_text_elements(relation, id_column, array_column, position='position', element='element') -%}
    {{ return(adapter.dispatch('json_array_text_elements', 'salesdw')(relation, id_column, array_column, position, element)) }}
{%- endmacro %}
{% macro default__json_array_text_elements(relation, id_column, array_column, position, element) -%}
    select
        {{ id_column }},
        {{ position }},
        json_list[{{ position }}] as {{ element }}
    from (
        select
            {{ id_column }},
            json_list,
            unnest(range(1, cast(len(json_list) + 1 as bigint))) as {{ position }}
        from (select {{ id_column }}, json_extract_string({{ array_column }}, '$[*]') as json_list from {{ relation }}) as lists
    ) as positions
{%- endmacro %}
{% macro postgres__json_array_text_elements(relation, id_column, array_column, position, element) -%}
    select
        src.{{ id_column }},
        elements.ordinality as {{ position }},
        elements.value as {{ element }}
    from {{ relation }} as src
    cross join lateral jsonb_array_elements_text(
        case when jsonb_typeof(src.{{ array_column }}) = 'array' then src.{{ array_column }} end
    ) with ordinality as elements(value, ordinality)
{%- endmacro %}

{#- Spark: raw JSON columns are JSON text. get_json_object reads a scalar (a string without its quotes, an object
    or array as JSON text); the JSON type of a value comes from the VARIANT functions (Spark 4), which tell a
    string from an object exactly; arrays are read with from_json(..., 'array<string>'), which keeps each
    element's JSON text (a string element without its quotes). -#}
{% macro spark__json_text(obj, path) -%}
    get_json_object({{ obj }}, '{{ path }}')
{%- endmacro %}
{% macro spark__json_value_as(obj, path, type) -%}
    cast(get_json_object({{ obj }}, '{{ path }}') as {{ type }})
{%- endmacro %}
{% macro spark__json_is_string(obj, path) -%}
    schema_of_variant(try_variant_get(try_parse_json({{ obj }}), '{{ path }}')) = 'STRING'
{%- endmacro %}
{% macro spark__json_array_elements(obj, path) -%}
    explode(from_json(get_json_object({{ obj }}, '{{ path }}'), 'array<string>'))
{%- endmacro %}
{% macro spark__json_array_text_elements(relation, id_column, array_column, position, element) -%}
    select
        src.{{ id_column }},
        cast(elements.pos + 1 as bigint) as {{ position }},
        elements.value as {{ element }}
    from {{ relation }} as src
    lateral view posexplode(from_json(src.{{ array_column }}, 'array<string>')) elements as pos, value
{%- endmacro %}
