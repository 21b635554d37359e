"""Azure DevOps code and pipelines -> Sentry releases and deploys: the version template
(``template``), the queue message (``message``), the commits of a release (``commits``) and
the queue function's work (``apply``)."""
