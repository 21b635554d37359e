"""HTTP trigger: search Azure DevOps work items to link (GET /api/search/{integrationId})."""

import azure.functions as func

from shared.search import handle_search


def main(req: func.HttpRequest) -> func.HttpResponse:
    reply = handle_search(req.route_params.get("integrationId"), req.params, req.headers)
    return func.HttpResponse(
        reply.json(),
        status_code=reply.status,
        headers=reply.headers,
        mimetype="application/json",
    )
