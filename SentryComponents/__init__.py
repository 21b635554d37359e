"""HTTP trigger: Sentry's UI components (issue-link forms and selects, alert rule settings)."""

import azure.functions as func

from shared.doors import http_response
from shared.sentry_intake.components import handle_component


def main(req: func.HttpRequest) -> func.HttpResponse:
    route = req.route_params
    reply = handle_component(
        route.get("integrationId"),
        route.get("org"),
        route.get("component"),
        route.get("action"),
        req.method,
        req.get_body(),
        req.params,
        req.headers,
    )
    return http_response(reply)
