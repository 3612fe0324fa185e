"""BI on the published marts: governed metrics (MetricFlow) and the starter sales dashboard."""
