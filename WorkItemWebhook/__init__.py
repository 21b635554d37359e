"""HTTP trigger: Azure DevOps work-item service hooks come in here (POST)."""

import azure.functions as func

from shared.webhook import handle_delivery


def main(req: func.HttpRequest) -> func.HttpResponse:
    reply = handle_delivery(req.get_body(), req.headers)
    return func.HttpResponse(
        reply.json(),
        status_code=reply.status,
        headers=reply.headers,
        mimetype="application/json",
    )
