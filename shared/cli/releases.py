"""``release``: Azure DevOps repositories tracked for Sentry releases, and which pipeline stages
count as deploys to which Sentry environments."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from shared.cli.output import id_argument, print_json
from shared.clients import azure_devops_code_client
from shared.errors import InvalidInput, NotFound
from shared.http import ApiNotFound
from shared.releases.code_mappings import check_root
from shared.releases.template import check_template
from shared.store.integrations import Integrations
from shared.store.repositories import (
    CodeMapping,
    DeployTarget,
    Repositories,
    TrackedRepository,
)
from shared.store.storage import Storage
from shared.validation import check_slug


def add_parser(groups: Any) -> None:
    release = groups.add_parser("release", help="repositories and deployments -> Sentry releases")
    actions = release.add_subparsers(dest="action", required=True)
    track = actions.add_parser("track", help="track a repository for Sentry releases")
    id_argument(track)
    track.add_argument("--repository", required=True, help="<project>/<repository name or id>")
    track.add_argument("--org", required=True, help="Sentry organization slug")
    track.add_argument(
        "--projects", required=True, help="comma-separated Sentry project slugs its code is in"
    )
    track.add_argument(
        "--version",
        required=True,
        help="release version template, e.g. {sha}, {name}@{build} (docs/releases.md)",
    )
    track.add_argument(
        "--branch", help="branch whose pushes make releases early, e.g. refs/heads/main"
    )
    deploy = actions.add_parser(
        "deploy", help="a pipeline stage (or release environment) that deploys to an environment"
    )
    id_argument(deploy)
    deploy.add_argument("--repository", required=True, help="tracked repository name or id")
    deploy.add_argument("--pipeline", required=True, help="pipeline name or id, or * for any")
    deploy.add_argument("--stage", required=True, help="stage / environment name, or * for any")
    deploy.add_argument("--environment", help="Sentry environment name (omit to remove)")
    mapping = actions.add_parser(
        "map",
        help="a code mapping: a Sentry project's stack frames under a path are files of the "
        "repository (stack trace links open them in Azure Repos)",
    )
    id_argument(mapping)
    mapping.add_argument("--repository", required=True, help="tracked repository name or id")
    mapping.add_argument("--sentry-project", required=True, help="Sentry project slug")
    mapping.add_argument(
        "--stack-root", default="", help="path prefix in the stack frames, e.g. app/ ('' all)"
    )
    mapping.add_argument(
        "--source-root", default="", help="where those files are in the repository, e.g. src/"
    )
    mapping.add_argument("--remove", action="store_true", help="remove this stack root's mapping")
    id_argument(actions.add_parser("list", help="tracked repositories"))
    untrack = actions.add_parser("untrack", help="stop making releases from a repository")
    id_argument(untrack)
    untrack.add_argument("--repository", required=True, help="tracked repository name or id")


def run(args: argparse.Namespace, storage: Storage, out: TextIO) -> None:
    integration = Integrations(storage).get(args.id, with_orgs=True)
    repos = Repositories(storage)
    if args.action == "track":
        project, _, name = args.repository.partition("/")
        if not project or not name:
            raise InvalidInput("--repository must be <project>/<repository name or id>")
        slug = check_slug(args.org)
        if integration.sentry_org(slug) is None:
            raise NotFound(f"integration {integration.id} has no Sentry organization {slug}")
        projects = tuple(p.strip() for p in args.projects.split(",") if p.strip())
        if not projects:
            raise InvalidInput("--projects needs at least one Sentry project slug")
        branch = (args.branch or "").strip() or None
        if branch and not branch.startswith("refs/heads/"):
            branch = "refs/heads/" + branch
        try:
            found = azure_devops_code_client(integration).repository(project, name)
        except ApiNotFound:
            raise NotFound(f"Azure DevOps has no repository {name} in project {project}") from None
        tracked = repos.track(
            TrackedRepository(
                integration_id=integration.id,
                repository_id=found.id,
                name=found.name,
                project=str(found.project.get("name") or project),
                sentry_org=slug,
                sentry_projects=projects,
                version_template=check_template(args.version),
                branch=branch,
            )
        )
        print_json(tracked.to_public(), out)
    elif args.action == "deploy":
        repo = repos.find(integration.id, args.repository)
        kept = [
            t
            for t in repo.deploys
            if (t.pipeline.casefold(), t.stage.casefold())
            != (args.pipeline.casefold(), args.stage.casefold())
        ]
        if args.environment:
            environment = args.environment.strip()
            if not environment or len(environment) > 64 or "/" in environment:
                raise InvalidInput("--environment must be a Sentry environment name (≤ 64, no /)")
            kept.append(DeployTarget(args.pipeline.strip(), args.stage.strip(), environment))
        print_json(repos.set_deploys(repo, kept).to_public(), out)
    elif args.action == "map":
        repo = repos.find(integration.id, args.repository)
        project = check_slug(args.sentry_project)
        if project not in repo.sentry_projects:
            raise InvalidInput(
                f"--sentry-project {project} is not one of the repository's Sentry projects "
                f"({', '.join(repo.sentry_projects)}); release track names them"
            )
        try:
            stack_root, source_root = check_root(args.stack_root), check_root(args.source_root)
        except ValueError as exc:
            raise InvalidInput(f"--stack-root / --source-root {exc}") from None
        kept = [
            m
            for m in repo.code_mappings
            if (m.sentry_project, m.stack_root) != (project, stack_root)
        ]
        if not args.remove:
            kept.append(CodeMapping(project, stack_root, source_root))
        print_json(repos.set_code_mappings(repo, kept).to_public(), out)
    elif args.action == "list":
        print_json([repo.to_public() for repo in repos.list(integration.id)], out)
    else:
        repos.untrack(repos.find(integration.id, args.repository))
        out.write(f"Repository {args.repository} is no longer tracked.\n")
