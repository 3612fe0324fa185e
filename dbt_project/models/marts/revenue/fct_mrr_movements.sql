-- MRR movements as they happen: one row per change of a subscription item's MRR (or of its subscription's
-- discount) on the day it happens. The value measured is the month-end MRR's (macros/mrr.sql: charges in
-- force, the subscription active, after its discount), taken at the end of every day on which one of those
-- starts or stops instead of at month ends only, so a month's movements add up to the change between its two
-- month ends in fct_mrr_monthly (tests/assert_mrr_movements_reconcile_with_month_end.sql).
-- A table rebuilt from the intermediate models on every run: a partitioned backfill and a normal run give the
-- same rows, because no row depends on when it was built.
with subscriptions as (
    select * from {{ ref('stg_billing__subscriptions') }}
),

charges as (
    select * from {{ ref('int_recurring_charges_normalized') }}
),

items as (
    select * from {{ ref('int_subscription_items_unnested') }}
),

rates as (
    select * from {{ ref('stg_crm__dated_conversion_rates') }}
),

customers as (
    select * from {{ ref('stg_billing__customers') }}
),

accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

subscription_terms as (
    {{ mrr_subscription_terms('subscriptions') }}
),

billing_intervals as (
    {{ mrr_billing_intervals('items') }}
),

item_charges as (
    select
        charges.subscription_id,
        -- invoice lines that name no subscription item (older exports) are one item of their subscription
        coalesce(charges.subscription_item_id, charges.subscription_id) as item_key,
        charges.subscription_item_id,
        charges.currency,
        charges.effective_from,
        charges.effective_to,
        charges.monthly_amount
    from charges
    inner join subscription_terms on charges.subscription_id = subscription_terms.subscription_id
),

-- every day on which something the MRR depends on starts or stops
change_days as (
    select
        subscription_id,
        cast(effective_from as date) as movement_date
    from item_charges
    union
    select
        subscription_id,
        cast(effective_to as date) as movement_date
    from item_charges
    union
    select
        subscription_id,
        cast(started_at as date) as movement_date
    from subscription_terms
    union
    select
        subscription_id,
        cast(ended_at as date) as movement_date
    from subscription_terms
    where ended_at is not null
    union
    select
        subscription_id,
        cast(discount_start_at as date) as movement_date
    from subscription_terms
    where discount_start_at is not null
    union
    select
        subscription_id,
        cast(discount_end_at as date) as movement_date
    from subscription_terms
    where discount_end_at is not null
),

-- the subscription at the end of each such day: its value just before the next midnight
points as (
    select
        subscription_id,
        movement_date,
        cast({{ dbt.dateadd('day', '1', 'movement_date') }} as timestamp) as measured_before
    from change_days
    where movement_date <= {{ as_of_date() }}
),

subscription_points as (
    select
        points.subscription_id,
        points.movement_date,
        points.measured_before,
        subscription_terms.customer_id,
        {{ mrr_in_force(
            'subscription_terms.started_at', 'subscription_terms.ended_at', 'points.measured_before'
        ) }} as is_active,
        {{ mrr_discount_in_force('subscription_terms', 'points.measured_before') }} as is_discount_active,
        subscription_terms.discount_percent_off,
        subscription_terms.discount_amount_off_minor
    from points
    inner join subscription_terms on points.subscription_id = subscription_terms.subscription_id
),

charges_in_force as (
    select
        subscription_points.subscription_id,
        subscription_points.movement_date,
        item_charges.item_key,
        item_charges.currency,
        item_charges.monthly_amount
    from subscription_points
    inner join item_charges
        on subscription_points.subscription_id = item_charges.subscription_id
        and {{ mrr_in_force('item_charges.effective_from', 'item_charges.effective_to', 'subscription_points.measured_before') }}
    where subscription_points.is_active
),

item_gross as (
    select
        subscription_id,
        movement_date,
        item_key,
        currency,
        sum(monthly_amount) as gross_mrr
    from charges_in_force
    group by subscription_id, movement_date, item_key, currency
),

-- summed over the charges, as the month-end MRR sums them
subscription_gross as (
    select
        subscription_id,
        movement_date,
        currency,
        sum(monthly_amount) as gross_mrr
    from charges_in_force
    group by subscription_id, movement_date, currency
),

subscription_currencies as (
    select distinct
        subscription_id,
        currency
    from item_charges
),

subscription_items as (
    select
        subscription_id,
        item_key,
        currency,
        max(subscription_item_id) as subscription_item_id
    from item_charges
    group by subscription_id, item_key, currency
),

currency_points as (
    select
        subscription_points.subscription_id,
        subscription_points.movement_date,
        subscription_points.customer_id,
        subscription_currencies.currency,
        coalesce(subscription_gross.gross_mrr, 0) as gross_mrr,
        case
            when subscription_points.is_discount_active then coalesce(subscription_points.discount_percent_off, 0)
            else 0
        end as discount_percent_off,
        case
            when subscription_points.is_discount_active
                then coalesce({{ mrr_discount_amount_off_monthly(
                    'subscription_points', 'subscription_currencies.currency', 'billing_intervals'
                ) }}, 0)
            else 0
        end as discount_amount_off_monthly
    from subscription_points
    inner join subscription_currencies on subscription_points.subscription_id = subscription_currencies.subscription_id
    left join subscription_gross
        on subscription_points.subscription_id = subscription_gross.subscription_id
        and subscription_points.movement_date = subscription_gross.movement_date
        and subscription_currencies.currency = subscription_gross.currency
    left join billing_intervals on subscription_points.subscription_id = billing_intervals.subscription_id
),

currency_changes as (
    select
        *,
        coalesce(lag(gross_mrr) over w, 0) as previous_gross_mrr,
        coalesce(lag(discount_percent_off) over w, 0) as previous_discount_percent_off,
        coalesce(lag(discount_amount_off_monthly) over w, 0) as previous_discount_amount_off_monthly
    from currency_points
    window w as (partition by subscription_id, currency order by movement_date)
),

item_points as (
    select
        currency_points.subscription_id,
        currency_points.movement_date,
        currency_points.currency,
        subscription_items.item_key,
        subscription_items.subscription_item_id,
        coalesce(item_gross.gross_mrr, 0) as gross_mrr,
        coalesce(lag(coalesce(item_gross.gross_mrr, 0)) over (
            partition by currency_points.subscription_id, currency_points.currency, subscription_items.item_key
            order by currency_points.movement_date
        ), 0) as previous_gross_mrr
    from currency_points
    inner join subscription_items
        on currency_points.subscription_id = subscription_items.subscription_id
        and currency_points.currency = subscription_items.currency
    left join item_gross
        on currency_points.subscription_id = item_gross.subscription_id
        and currency_points.movement_date = item_gross.movement_date
        and currency_points.currency = item_gross.currency
        and subscription_items.item_key = item_gross.item_key
),

-- What changed that day: items (decreases in phase 1, increases in phase 3) and the discount (phase 2).
components as (
    select
        subscription_id,
        movement_date,
        currency,
        item_key,
        subscription_item_id,
        'item' as movement_source,
        previous_gross_mrr as gross_mrr_before,
        gross_mrr as gross_mrr_after,
        gross_mrr - previous_gross_mrr as gross_change,
        case when gross_mrr < previous_gross_mrr then 1 else 3 end as phase
    from item_points
    where gross_mrr <> previous_gross_mrr
    union all
    select
        subscription_id,
        movement_date,
        currency,
        cast(null as {{ dbt.type_string() }}) as item_key,
        cast(null as {{ dbt.type_string() }}) as subscription_item_id,
        'discount' as movement_source,
        cast(null as {{ type_double() }}) as gross_mrr_before,
        cast(null as {{ type_double() }}) as gross_mrr_after,
        0 as gross_change,
        2 as phase
    from currency_changes
    where
        discount_percent_off <> previous_discount_percent_off
        or discount_amount_off_monthly <> previous_discount_amount_off_monthly
),

-- A day's changes are valued one after the other, each as the change in the subscription's MRR (after its
-- discount) it makes on top of the ones before it: decreases under the discount in force before the day, then
-- the discount's own change, then increases under the discount after it. So they add up exactly to the day's
-- change of the subscription's MRR, and a discount starting with a subscription is no movement of its own.
chained as (
    select
        components.*,
        currency_changes.customer_id,
        currency_changes.previous_gross_mrr as subscription_gross_before,
        currency_changes.gross_mrr as subscription_gross_after,
        currency_changes.previous_gross_mrr + sum(components.gross_change) over w_running as running_gross,
        row_number() over w_last = 1 as is_last,
        case
            when components.phase = 3 then currency_changes.discount_percent_off
            else currency_changes.previous_discount_percent_off
        end as percent_off_before,
        case
            when components.phase = 3 then currency_changes.discount_amount_off_monthly
            else currency_changes.previous_discount_amount_off_monthly
        end as amount_off_before,
        case
            when components.phase = 1 then currency_changes.previous_discount_percent_off
            else currency_changes.discount_percent_off
        end as percent_off_after,
        case
            when components.phase = 1 then currency_changes.previous_discount_amount_off_monthly
            else currency_changes.discount_amount_off_monthly
        end as amount_off_after
    from components
    inner join currency_changes
        on components.subscription_id = currency_changes.subscription_id
        and components.movement_date = currency_changes.movement_date
        and components.currency = currency_changes.currency
    window
        w_running as (
            partition by components.subscription_id, components.currency, components.movement_date
            order by components.phase, components.item_key rows between unbounded preceding and current row
        ),
        w_last as (
            partition by components.subscription_id, components.currency, components.movement_date
            order by components.phase desc, components.item_key desc
        )
),

chain_points as (
    select
        *,
        -- the last step lands on the day's own sum over the charges (the value the next day starts from)
        case when is_last then subscription_gross_after else running_gross end as chain_gross_after
    from chained
),

chain_steps as (
    select
        *,
        coalesce(
            lag(chain_gross_after) over (
                partition by subscription_id, currency, movement_date order by phase, item_key
            ),
            subscription_gross_before
        ) as chain_gross_before
    from chain_points
),

valued as (
    select
        *,
        {{ mrr_after_discount('chain_gross_before', 'true', 'percent_off_before', 'amount_off_before') }}
            as mrr_native_before,
        {{ mrr_after_discount('chain_gross_after', 'true', 'percent_off_after', 'amount_off_after') }}
            as mrr_native_after
    from chain_steps
),

movements as (
    select
        *,
        {{ money('mrr_native_after - mrr_native_before') }} as mrr_change_native,
        -- the subscription's MRR in this currency at the end of the day before and of the day
        first_value(mrr_native_before) over w_day as subscription_mrr_native_before,
        last_value(mrr_native_after) over w_day as subscription_mrr_native_after
    from valued
    window w_day as (
        partition by subscription_id, currency, movement_date
        order by phase, item_key rows between unbounded preceding and unbounded following
    )
),

nonzero_movements as (
    select * from movements
    where mrr_change_native <> 0
),

-- The customer's MRR is above 0 while at least one of its subscriptions (per currency) is.
subscription_days as (
    select distinct
        customer_id,
        subscription_id,
        currency,
        movement_date,
        subscription_mrr_native_before,
        subscription_mrr_native_after
    from nonzero_movements
),

customer_days as (
    select
        customer_id,
        movement_date,
        sum(
            case when subscription_mrr_native_after > 0 then 1 else 0 end
            - case when subscription_mrr_native_before > 0 then 1 else 0 end
        ) as paying_change
    from subscription_days
    group by customer_id, movement_date
),

customer_status as (
    select
        customer_id,
        movement_date,
        paying_after - paying_change > 0 as was_paying,
        paying_after > 0 as is_paying,
        coalesce(max(case when paying_after > 0 then 1 else 0 end) over (
            partition by customer_id order by movement_date rows between unbounded preceding and 1 preceding
        ), 0) = 1 as paid_before
    from (
        select
            *,
            sum(paying_change) over (
                partition by customer_id order by movement_date rows between unbounded preceding and current row
            ) as paying_after
        from customer_days
    ) as running
),

-- Started and ended inside the month: no MRR at the end of the previous month nor at the end of this one.
subscription_months as (
    select
        subscription_id,
        {{ dbt.date_trunc('month', 'movement_date') }} as month,
        sum(month_start_mrr + month_end_mrr) = 0 as is_within_month
    from (
        select distinct
            subscription_id,
            currency,
            movement_date,
            first_value(subscription_mrr_native_before) over w_month as month_start_mrr,
            last_value(subscription_mrr_native_after) over w_month as month_end_mrr
        from subscription_days
        window w_month as (
            partition by subscription_id, currency, {{ dbt.date_trunc('month', 'movement_date') }}
            order by movement_date rows between unbounded preceding and unbounded following
        )
    ) as per_currency
    group by subscription_id, {{ dbt.date_trunc('month', 'movement_date') }}
),

classified as (
    select
        nonzero_movements.*,
        cast({{ dbt.date_trunc('month', 'nonzero_movements.movement_date') }} as date) as month,
        case
            when not customer_status.was_paying and customer_status.is_paying
                then case when customer_status.paid_before then 'reactivation' else 'new' end
            when customer_status.was_paying and not customer_status.is_paying then 'churn'
            when nonzero_movements.mrr_change_native > 0 then 'expansion'
            else 'contraction'
        end as movement_type,
        subscription_months.is_within_month,
        -- the customer's MRR in this currency after the movement, all its subscriptions together
        sum(nonzero_movements.mrr_change_native) over (
            partition by nonzero_movements.customer_id, nonzero_movements.currency
            order by
                nonzero_movements.movement_date, nonzero_movements.subscription_id,
                nonzero_movements.phase, nonzero_movements.item_key
            rows between unbounded preceding and current row
        ) as customer_mrr_native_after
    from nonzero_movements
    inner join customer_status
        on nonzero_movements.customer_id = customer_status.customer_id
        and nonzero_movements.movement_date = customer_status.movement_date
    inner join subscription_months
        on nonzero_movements.subscription_id = subscription_months.subscription_id
        and {{ dbt.date_trunc('month', 'nonzero_movements.movement_date') }} = subscription_months.month
),

-- Corporate currency at the rate of the month's measurement day (its last day, or the as-of date), as
-- fct_mrr_monthly converts the month: each movement is the change it makes to the customer's MRR converted at
-- that rate, so a month's movements sum exactly to fct_mrr_monthly's mrr - previous_mrr.
converted as (
    select
        classified.*,
        {{ to_corporate('classified.customer_mrr_native_after', 'classified.currency', 'rates.conversion_rate') }}
        - {{ to_corporate(
            '(classified.customer_mrr_native_after - classified.mrr_change_native)',
            'classified.currency', 'rates.conversion_rate'
        ) }} as movement_amount
    from classified
    left join rates
        on classified.currency = rates.iso_code
        and least(
            cast({{ dbt.dateadd('day', '-1', dbt.dateadd('month', '1', 'classified.month')) }} as date),
            {{ as_of_date() }}
        ) >= rates.start_date
        and least(
            cast({{ dbt.dateadd('day', '-1', dbt.dateadd('month', '1', 'classified.month')) }} as date),
            {{ as_of_date() }}
        ) < rates.next_start_date
),

final as (
    select
        converted.subscription_id || ' ' || coalesce(converted.item_key, '~discount') || ' ' || converted.currency
        || ' ' || cast(converted.movement_date as {{ dbt.type_string() }}) as mrr_movement_id,
        converted.movement_date,
        converted.month,
        converted.customer_id,
        accounts.account_id,
        converted.subscription_id,
        converted.subscription_item_id,
        converted.movement_source,
        converted.movement_type,
        converted.currency,
        {{ money('converted.gross_mrr_before') }} as gross_mrr_native_before,
        {{ money('converted.gross_mrr_after') }} as gross_mrr_native_after,
        converted.mrr_change_native as movement_amount_native,
        {{ money('converted.movement_amount') }} as movement_amount,
        converted.is_within_month
    from converted
    left join customers on converted.customer_id = customers.customer_id
    left join accounts on customers.crm_account_id = accounts.account_id
)

select * from final
