"""Alerts to a webhook, when one is configured: an HMAC-signed JSON POST per alert.

The body (one alert):

    {"type": "budget.threshold_crossed", "alert_id", "budget_id", "scope", "threshold",
     "period_start", "raised" (RFC 3339, UTC),
     "spent": {"currency_code", "nanos"}, "limit": {"currency_code", "nanos"}}

signed as `svckit.signatures` says (header `X-Switchboard-Signature`; receivers verify it with
`svckit.signatures.verify`). Raising an alert exactly once is the database's job (accounting);
delivery is at least once, with retries (`svckit.webhooks`), so receivers deduplicate by
`alert_id`. Each replica delivers the alerts it raised itself, in background tasks, so the
ledger's writer never waits for a receiver.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from services.cost.budgets.model import Alert
from svckit.webhooks import SignedWebhooks

EVENT_TYPE = "budget.threshold_crossed"


def alert_payload(alert: Alert) -> dict[str, Any]:
    return {
        "type": EVENT_TYPE,
        "alert_id": alert.id,
        "budget_id": alert.budget_id,
        "scope": alert.scope,
        "threshold": alert.threshold,
        "period_start": alert.period_start.isoformat(),
        "raised": alert.raised_at.isoformat(),
        "spent": {"currency_code": alert.spent.currency, "nanos": alert.spent.nanos},
        "limit": {"currency_code": alert.limit.currency, "nanos": alert.limit.nanos},
    }


class AlertWebhook(SignedWebhooks):
    def __init__(self, url: str, secret: str | Callable[[], str], **options: Any) -> None:
        """`options` as `SignedWebhooks` takes them; five attempts unless told otherwise."""
        options.setdefault("max_attempts", 5)
        super().__init__(secret, **options)
        self._url = url

    def send(self, raised: Sequence[Alert]) -> None:
        """Delivers each alert in the background (an accounting listener)."""
        for alert in raised:
            self.post_later(self._url, alert_payload(alert), f"alert {alert.id}")

    async def deliver(self, alert: Alert) -> bool:
        """One delivery with its retries; True once the receiver answered 2xx."""
        return await self.post(self._url, alert_payload(alert), f"alert {alert.id}")
