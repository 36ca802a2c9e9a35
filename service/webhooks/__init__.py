"""Signed pushes of the change log: subscriptions, their outbound checks, the delivery worker."""
