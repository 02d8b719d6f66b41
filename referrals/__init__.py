"""诉调对接: courts, referrals out, entrustments in, decisions back, and the webhook
outbox with its delivery worker. Importing this package subscribes it to the dispute
signals of `mediation`."""
