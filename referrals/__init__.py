"""诉调对接: courts, referrals out, entrustments in, decisions back, and the webhook
outbox with its delivery worker, as plain services (the HTTP controllers are in
`api.routes`).

Importing this package changes nothing; `install()` (called once by the app factory, the
worker and the command line) adds the `refer` and `confirmation` dispute actions and
subscribes the court side to the dispute events."""


def install() -> None:
    """Idempotent: wire the court side into the dispute service."""
    from referrals import subscribers

    subscribers.install()
