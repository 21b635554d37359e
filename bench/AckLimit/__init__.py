"""The benchmark's yardstick (never deployed): the least an acknowledgement can do with the
same SDK and host, parse the body and make one queue put."""

import json

import azure.functions as func

from shared.store.storage import get_storage


def main(req: func.HttpRequest) -> func.HttpResponse:
    json.loads(req.get_body())
    get_storage().send('{"bench": 1}')
    return func.HttpResponse('{"status": "queued"}', status_code=202)
