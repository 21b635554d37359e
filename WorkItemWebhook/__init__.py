"""HTTP trigger: Azure DevOps work-item service hooks come in here (POST)."""

import azure.functions as func

from shared.devops_intake.webhook import handle_delivery
from shared.doors import http_response


def main(req: func.HttpRequest) -> func.HttpResponse:
    return http_response(handle_delivery(req.get_body(), req.headers))
