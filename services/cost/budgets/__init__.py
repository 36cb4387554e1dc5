"""Budgets: spending limits per tenant, user or key (optionally per model), per calendar period,
with reservations that make concurrent calls unable to overshoot a hard budget, and alerts raised
once per threshold and period.

- `periods`: the calendar period an instant falls in, in a budget's time zone.
- `model`: `Budget` and `Alert`, and validation of a new budget.
- `store`: budgets in SQL (`cost_budgets`), cached for the hot path.
- `accounting`: the ledger hook that adds priced usage to `cost_budget_spend` and raises alerts
  in the ledger's transaction (exactly once), then settles reservations.
- `reservations` (+ `memory_reservations`, `redis_reservations`): the worst-case cost of calls
  admitted whose usage has not arrived yet.
- `checker`: `CheckBudget`.
- `alerts`: listing alerts, and the feed behind `WatchAlerts`; `alert_webhook`: signed POSTs.
"""
