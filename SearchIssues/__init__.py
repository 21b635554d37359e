"""HTTP trigger: search Azure DevOps work items to link (GET /api/search/{integrationId})."""

import azure.functions as func

from shared.doors import http_response
from shared.search.work_items import handle_search


def main(req: func.HttpRequest) -> func.HttpResponse:
    integration_id = req.route_params.get("integrationId")
    return http_response(handle_search(integration_id, req.params, req.headers))
