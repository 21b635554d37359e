"""``installation.created`` and ``installation.deleted``: attach or detach the organization."""

from __future__ import annotations

from pydantic import ValidationError

from shared.doors import Rejected, Reply
from shared.log import log_event
from shared.sentry.webhooks import InstallationData
from shared.sentry_intake.delivery import SentryDelivery, ignored
from shared.store.audit import APPLIED, KIND_SENTRY, SKIPPED, AuditEntry, AuditLog
from shared.store.sentry_orgs import InstallationRetired, SentryOrgs
from shared.validation import describe_invalid


def _installation(delivery: SentryDelivery) -> InstallationData:
    try:
        data = InstallationData.model_validate(delivery.envelope.data)
    except ValidationError as exc:
        raise Rejected(400, describe_invalid(exc, prefix="data.")) from None
    if data.installation.uuid.lower() != delivery.envelope.installation.uuid.lower():
        raise Rejected(400, "data.installation.uuid differs from installation.uuid")
    organization = data.installation.organization
    if organization is not None and organization.slug != delivery.org.slug:
        raise Rejected(
            400,
            f"the installation belongs to Sentry organization {organization.slug[:64]}, "
            f"not {delivery.org.slug}",
        )
    return data


def created(delivery: SentryDelivery) -> Reply:
    data = _installation(delivery)
    app = data.installation.app
    try:
        org = SentryOrgs(delivery.storage).record_installation(
            delivery.integration.id,
            delivery.org.slug,
            data.installation.uuid,
            app.uuid if app else None,
        )
    except InstallationRetired as exc:
        _audit(delivery, "sentry-install-refused", str(exc), SKIPPED)
        return ignored(delivery, str(exc))
    _audit(delivery, "sentry-installed", f"installation {org.installation_uuid} recorded")
    return Reply(200, {"status": "installed", "installationUuid": org.installation_uuid})


def deleted(delivery: SentryDelivery) -> Reply:
    data = _installation(delivery)
    known = delivery.org.installation_uuid
    if known and data.installation.uuid != known:
        return ignored(delivery, "not the installation this organization is configured with")
    SentryOrgs(delivery.storage).uninstall(delivery.integration.id, delivery.org.slug)
    _audit(
        delivery,
        "sentry-uninstalled",
        "the integration was uninstalled in Sentry; nothing is synced into this organization "
        "until it is installed again",
    )
    return Reply(200, {"status": "uninstalled"})


def _audit(delivery: SentryDelivery, action: str, reason: str, outcome: str = APPLIED) -> None:
    log_event(
        "sentry_webhook." + action,
        integration=delivery.integration.id,
        sentry_org=delivery.org.slug,
    )
    AuditLog(delivery.storage).record(
        delivery.integration.id,
        AuditEntry(
            kind=KIND_SENTRY,
            work_item_id=0,
            rev=0,
            outcome=outcome,
            action=action,
            reason=reason,
            sentry_org=delivery.org.slug,
        ),
    )
