"""What one function hands another, below every feature that uses it: the queue messages
(Sentry events, work item changes) and the UI component request. Imports nothing."""
