"""One example per command, shown by its ``--help`` (as ``az`` does) and in docs/cli.md; a
test parses each one, so neither can drift from the code."""

from __future__ import annotations

ID = "0c2f7a51-6b7e-4d4a-8e3c-1f2a3b4c5d6e"
CLI = ".venv/bin/python -m shared.cli"
APP = "https://ado-sentry-sync.azurewebsites.net"

EXAMPLES: dict[str, list[str]] = {
    "integration add": [
        f"integration add {ID} --base-url https://dev.azure.com/contoso/ "
        "--pat-setting ADO_PAT_CONTOSO --name Contoso",
    ],
    "integration update": [
        f"integration update {ID} --resolution resolvedInNextRelease",
        f"integration update {ID} --search-url ''",
    ],
    "integration list": ["integration list --all"],
    "integration show": [f"integration show {ID}"],
    "integration check": [f"integration check {ID}"],
    "integration remove": [f"integration remove {ID} --yes"],
    "integration rotate-secret": [f"integration rotate-secret {ID}"],
    "integration finish-rotation": [f"integration finish-rotation {ID}"],
    "integration sentry-add": [
        f"integration sentry-add {ID} --org acme --base-url https://us.sentry.io/ "
        "--token-setting SENTRY_TOKEN_ACME --client-secret-setting SENTRY_SECRET_ACME",
    ],
    "integration sentry-update": [
        f"integration sentry-update {ID} --org acme "
        "--installation 7ad5b1b2-8f34-4c6a-9a59-1c2d3e4f5a6b",
    ],
    "integration field-map": [
        f"integration field-map {ID} --project Fabrikam --type Bug --source level "
        "--field Severity --value 'fatal=1 - Critical' --value 'error=2 - High' "
        "--value 'warning=3 - Medium'",
        f"integration field-map {ID} --project '*' --type '*' --source release "
        "--field Microsoft.VSTS.Build.FoundIn",
        f"integration field-map {ID} --project Fabrikam --type Bug --source userCount "
        "--field Custom.UsersAffected --live",
    ],
    "integration sentry-schema": [
        f"integration sentry-schema {ID} --org acme --app-url {APP}",
    ],
    "integration sentry-remove": [f"integration sentry-remove {ID} --org acme"],
    "integration done-states": [
        f"integration done-states {ID} --project Phoenix --type 'User Story' "
        "--states Closed,Accepted",
    ],
    "integration sync": [
        f"integration sync {ID} --status-to-devops on --assignee-to-devops on --comments on",
        f"integration sync {ID} --regression comment",
    ],
    "integration resolve-states": [
        f"integration resolve-states {ID} --project Phoenix --type Bug --resolve Resolved "
        "--unresolve Active",
    ],
    "link add": [f"link add {ID} --work-item 4812 --org acme --issue 1234567"],
    "link remove": [f"link remove {ID} --work-item 4812 --org acme --issue 1234567"],
    "link list": [
        f"link list {ID} --work-item 4812",
        f"link list {ID} --org acme --issue 1234567",
    ],
    "poison list": ["poison list --queue sentry"],
    "poison replay": [
        "poison replay --message-id 6e1f2c3d-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
        "poison replay --queue releases --yes",
    ],
    "poison drop": ["poison drop --message-id 6e1f2c3d-4a5b-4c6d-8e9f-0a1b2c3d4e5f --yes"],
    "subscription create": [
        f"subscription create {ID} --url {APP}/api/workitems/webhook "
        "--key-setting WEBHOOK_FUNCTION_KEY",
        f"subscription create {ID} --event workitem.commented",
        f"subscription create {ID} --url http://127.0.0.1:7071/api/workitems/webhook --anonymous",
    ],
    "subscription list": [f"subscription list {ID}"],
    "subscription check": [f"subscription check {ID}"],
    "reconcile": [f"reconcile {ID} --dry-run"],
    "prune": [f"prune {ID} --yes"],
    "audit": [f"audit {ID} --work-item 4812 --limit 20", "audit unreadable"],
    "release track": [
        f"release track {ID} --repository Phoenix/web --org acme --projects web,api "
        "--version '{name}@{build}' --branch refs/heads/main",
    ],
    "release deploy": [
        f"release deploy {ID} --repository web --pipeline web-ci --stage prod "
        "--environment production",
    ],
    "release map": [
        f"release map {ID} --repository web --sentry-project web --stack-root app/ "
        "--source-root src/app/",
    ],
    "release list": [f"release list {ID}"],
    "release untrack": [f"release untrack {ID} --repository web"],
}
