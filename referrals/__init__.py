"""诉调对接: courts, referrals out, entrustments in, decisions back, and the webhook
outbox with its delivery worker. Importing this package subscribes it to the dispute
signals of `mediation` and adds the `refer` and `confirmation` dispute actions."""

from referrals import subscribers as _subscribers

_subscribers.install()
