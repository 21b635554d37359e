"""HTTP trigger: Sentry's issue-link component (link, create, select options), signed."""

import azure.functions as func

from shared.doors import http_response
from shared.issue_links.handler import handle_issue_link


def main(req: func.HttpRequest) -> func.HttpResponse:
    route = req.route_params
    reply = handle_issue_link(
        route.get("integrationId"),
        route.get("org"),
        route.get("action"),
        req.method,
        req.get_body(),
        req.params,
        req.headers,
    )
    return http_response(reply)
