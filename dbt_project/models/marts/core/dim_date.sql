-- The calendar for BI (definition and columns: int_dates_spined).
select * from {{ ref('int_dates_spined') }}
