"""What a handler of a UI component gets: a request verified with the organization's client
secret."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.doors import Reply
from shared.sentry.components import AlertRuleSettingsRequest, IssueLinkRequest, SelectRequest
from shared.store.records import Integration, SentryOrg
from shared.store.storage import Storage


@dataclass(frozen=True)
class UiRequest:
    storage: Storage
    integration: Integration
    org: SentryOrg
    link: IssueLinkRequest | None = None  # POST link / create
    select: SelectRequest | None = None  # GET options
    alert_rule: AlertRuleSettingsRequest | None = None  # POST alert rule settings

    @property
    def form(self) -> IssueLinkRequest:
        assert self.link is not None
        return self.link

    @property
    def query(self) -> SelectRequest:
        assert self.select is not None
        return self.select

    @property
    def rule(self) -> AlertRuleSettingsRequest:
        assert self.alert_rule is not None
        return self.alert_rule


Handler = Callable[[UiRequest], Reply]
