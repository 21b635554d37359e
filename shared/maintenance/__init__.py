"""SubscriptionCheck, the timer: keep subscriptions healthy, correct drift, prune old rows."""
