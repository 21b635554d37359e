"""devhost: a development-only EMULATION of the Azure Functions host, for this app.

Azure Functions Core Tools cannot be installed on our machines, so this package loads the
function folders the way the host and Python worker do, serves HTTP triggers on
``http://127.0.0.1:7071/api/...`` and polls queue triggers from Storage (Azurite) with
``host.json`` semantics. It is never deployed (``.funcignore``) and is not a general host:
it supports the trigger and binding types this app and its tests use (httpTrigger + http
output, queueTrigger, queue output). Run it with ``python -m devhost`` or ``make run``.
"""
