"""HTTP trigger: Sentry integration-platform webhooks come in here (POST, signed)."""

import azure.functions as func

from shared.doors import http_response
from shared.sentry_intake.webhook import handle_sentry_hook


def main(req: func.HttpRequest) -> func.HttpResponse:
    params = req.route_params
    reply = handle_sentry_hook(
        params.get("integrationId"), params.get("org"), req.get_body(), req.headers
    )
    return http_response(reply)
