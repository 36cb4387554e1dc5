"""The cost service: prices, an exactly-once usage ledger, budgets, alerts and spend reports."""
