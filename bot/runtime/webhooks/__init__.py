"""GitHub webhooks: verify, store, answer; then process each stored delivery once.

The receiver answers 202 as soon as the delivery is stored; a redelivery (same
`X-GitHub-Delivery`) is answered 200 and not processed again. The worker hands each stored
delivery to the cogs' handlers; messages they post are keyed by delivery and handler, so a
delivery processed twice (after a crash, or a retry) posts nothing twice.
"""

from bot.runtime.webhooks.budget import SMALL_BODY
from bot.runtime.webhooks.payloads import signature_for
from bot.runtime.webhooks.receiver import LARGE_BODY_RATE, WebhookReceiver
from bot.runtime.webhooks.worker import WebhookWorker

__all__ = ["LARGE_BODY_RATE", "SMALL_BODY", "WebhookReceiver", "WebhookWorker", "signature_for"]
