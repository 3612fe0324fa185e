-- The fiscal calendar is internally consistent: every day lies in its quarter, quarters are 3 calendar months
-- starting on the fiscal start month, and the label matches the fiscal year and quarter number.
select date_day
from {{ ref('dim_date') }}
where date_day < fiscal_quarter_start
    or date_day > fiscal_quarter_end
    or fiscal_quarter_end <> cast({{ dbt.dateadd('day', '-1', dbt.dateadd('month', '3', 'fiscal_quarter_start')) }} as date)
    or extract(day from fiscal_quarter_start) <> 1
    or ((cast(extract(month from fiscal_quarter_start) as integer) - {{ fiscal_year_start_month() }} + 12) % 3) <> 0
    or fiscal_quarter <> 'FY' || cast(fiscal_year as {{ dbt.type_string() }}) || '-Q' || cast(fiscal_quarter_number as {{ dbt.type_string() }})
    or (fiscal_quarter_number = 1 and extract(month from fiscal_quarter_start) <> {{ fiscal_year_start_month() }})
    -- a fiscal year is named by the calendar year in which it ends
    or fiscal_year <> cast(extract(year from cast({{ dbt.dateadd('month', '11', 'fiscal_year_start') }} as date)) as integer)
