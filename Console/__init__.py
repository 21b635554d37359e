"""HTTP trigger: the operator console (App Service Authentication signs people in)."""

import azure.functions as func

from shared.console.app import ConsoleRequest, handle
from shared.doors import http_response


def main(req: func.HttpRequest) -> func.HttpResponse:
    request = ConsoleRequest(
        method=req.method,
        path=req.route_params.get("path") or "",
        headers={name.lower(): value for name, value in req.headers.items()},
        params=dict(req.params),
        body=req.get_body(),
    )
    return http_response(handle(request))
