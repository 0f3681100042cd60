"""What one gateway process holds while it runs: settings, catalog, engine, key services.

Nothing here carries request-path state that other processes would need to agree on;
keys, clients and everything else shared live in the database.

This is the composition root: it imports every service to build them, so nothing but
``gateway.app``, the command line and tests may import it. Request code reaches a part
through ``gateway.core.web.Components`` (``get(kind)`` by type, as ports are looked up in
the partner registry), never through ``AppState`` itself: a feature that imported this
module would import every other feature through it. A part may also be registered under
a ``typing.Protocol`` its user declares (``ConsentCheck`` for the audited call,
``Notices`` for the inbound feeds).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, TypeVar, cast

from fastapi import Request
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from audit.sealer import SealPolicy
from audit.writer import GroupCommitWriter
from gateway.auditing.checkpoint_keys import AuditKeys
from gateway.auditing.service import AuditSealer
from gateway.auth.tokens import TokenService
from gateway.broker.rules import RuleTable, load_rules
from gateway.calls.audited import ConsentCheck
from gateway.catalog.models import Catalog
from gateway.clients.directory import ClientDirectory
from gateway.consent.service import ConsentService
from gateway.core.crypto import SecretBox
from gateway.core.data_keys import DataKeyring
from gateway.core.db import create_engine, session_factory
from gateway.core.pseudonyms import Pseudonymizer
from gateway.core.registry import SIGNING_KEYS, CachedClients, RegistryVersions
from gateway.core.statistics import refresh_statistics
from gateway.districts import DistrictTable, load_table
from gateway.exchanges.jobs import ExchangeRunJob
from gateway.exchanges.service import ExchangeService
from gateway.idempotency.service import IdempotencyService
from gateway.inbound.feeds import Notices
from gateway.inbound.reading import Limits
from gateway.inbound.service import InboundService
from gateway.jobs import JobRunner
from gateway.partners.credentials import CredentialStore
from gateway.partners.health import PartnerHealth
from gateway.partners.ports import ShortMessageCentre
from gateway.partners.registry import PartnerRegistry
from gateway.payments.jobs import PaymentRunJob
from gateway.payments.service import PaymentService
from gateway.ratelimit.service import RateLimiter
from gateway.reminders.jobs import ReminderDispatch
from gateway.reminders.service import ReminderService, SendingWindow
from gateway.retention import purge_logged
from gateway.settings import Settings
from gateway.signing_keys.service import KeyService
from gateway.subscriptions.delivery import DeliveryJob
from gateway.subscriptions.service import SubscriptionService

T = TypeVar("T")

# The function that registers the partners' adapters (``adapters.wiring.register`` or an
# alternative named by ``GATEWAY_ADAPTERS``). It is typed and loaded here, at the root,
# because only the root may know both the registry and the settings.
Wiring = Callable[[PartnerRegistry, Settings], None]


def load_wiring(path: str) -> Wiring:
    """The wiring function at ``module:function``; ImportError/AttributeError if absent."""
    module_name, _, function = path.partition(":")
    module = importlib.import_module(module_name)
    return cast(Wiring, getattr(module, function))


@dataclass
class AppState:
    settings: Settings
    catalog: Catalog
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keys: KeyService
    tokens: TokenService
    metrics: CollectorRegistry
    partner_health: PartnerHealth
    partners: PartnerRegistry
    pseudonyms: Pseudonymizer
    districts: DistrictTable
    idempotency: IdempotencyService
    rules: RuleTable
    audit_writer: GroupCommitWriter
    clients: CachedClients
    keyring: DataKeyring
    audit_keys: AuditKeys
    sealer: AuditSealer
    inbound: InboundService
    exchanges: ExchangeService
    payments: PaymentService
    reminders: ReminderService
    subscriptions: SubscriptionService
    consents: ConsentService
    rate_limiter: RateLimiter
    credentials: CredentialStore
    jobs: JobRunner
    _parts: dict[Any, Any] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._parts = {
            type(getattr(self, f.name)): getattr(self, f.name)
            for f in fields(self)
            if f.name != "_parts"
        }
        self._parts[ConsentCheck] = self.consents
        self._parts[Notices] = self.subscriptions

    def get(self, kind: type[T]) -> T:
        """The part of type ``kind`` (``gateway.core.web.Components``); a subclass's
        instance answers for its base. ``LookupError`` if none."""
        try:
            return cast(T, self._parts[kind])
        except KeyError:
            for f in fields(self):
                value = getattr(self, f.name)
                if isinstance(value, kind):
                    self._parts[kind] = value
                    return value
        raise LookupError(f"the gateway holds no {kind.__name__}")

    @classmethod
    def build(cls, settings: Settings, catalog: Catalog) -> AppState:
        engine = create_engine(settings.database_url)
        sessions = session_factory(engine)
        keys = KeyService(
            SecretBox(settings.master_key_bytes, "signing-keys"),
            timedelta(seconds=settings.token_ttl_seconds),
        )
        metrics = CollectorRegistry()
        health = PartnerHealth(metrics)
        partners = PartnerRegistry(health)
        load_wiring(settings.adapters)(partners, settings)
        keyring = DataKeyring(settings.master_key_bytes)
        credentials = CredentialStore(sessions, keyring)
        credentials.attach(partners.credentials)
        pseudonyms = Pseudonymizer(settings.master_key_bytes)
        districts = load_table(settings.ubigeo_file)
        audit_keys = AuditKeys(settings.master_key_bytes)
        consents = ConsentService(keyring, pseudonyms)
        tokens = TokenService(keys, settings.token_issuer, settings.token_ttl_seconds)
        directory = ClientDirectory(settings.database_url, sessions)
        versions = RegistryVersions(directory, sessions, settings.registry_refresh_ms)

        def keys_changed(tables: set[str]) -> None:
            if SIGNING_KEYS in tables:
                keys.forget_public_keys()
                tokens.forget_verified()

        versions.on_change(keys_changed)
        policy = SealPolicy(
            checkpoint_every=settings.audit_checkpoint_every,
            checkpoint_seconds=settings.audit_checkpoint_seconds,
            gap_grace_seconds=settings.audit_gap_grace_seconds,
        )
        exchanges = ExchangeService(catalog, keyring, partners, pseudonyms, consents)
        payments = PaymentService(
            keyring,
            partners,
            pseudonyms,
            consents,
            chunk_size=settings.partners.bn.payment_chunk_size,
        )
        subscriptions = SubscriptionService(catalog, keyring, pseudonyms, consents)
        jobs = JobRunner(sessions, metrics, lease_seconds=settings.exchanges_lease_seconds)

        # The runner works each kind below in a loop of its own (JobRunner.run_forever): a
        # long payment run holds back no reminder, delivery, exchange or seal.
        async def schedule(session: AsyncSession) -> int:
            return len(await exchanges.schedule_due(session))

        jobs.every("exchange-schedule", 0, schedule)
        sealer = AuditSealer(sessions, audit_keys, policy)
        if settings.audit_seal_interval_seconds > 0:
            jobs.every(
                "audit-seal", settings.audit_seal_interval_seconds, sealer.step, delay_first=True
            )
        if settings.purge_interval_seconds > 0:
            jobs.every(
                "purge",
                settings.purge_interval_seconds,
                lambda session: purge_logged(session, catalog),
                delay_first=True,
            )
        if settings.statistics_interval_seconds > 0:
            jobs.every(
                "statistics",
                settings.statistics_interval_seconds,
                refresh_statistics,
                delay_first=True,
            )
        # Deliveries are dispatched: no transaction stays open while a subscriber's
        # webhook answers (gateway.subscriptions.delivery).
        jobs.dispatcher(DeliveryJob(subscriptions))
        jobs.register(ExchangeRunJob(exchanges))
        jobs.register(PaymentRunJob(payments, catalog))
        smsc = settings.partners.smsc
        reminders = ReminderService(
            keyring,
            pseudonyms,
            SendingWindow(smsc.sending_from_hour, smsc.sending_to_hour, smsc.time_zone),
        )
        # Submissions are dispatched (no transaction open while the SMSC answers);
        # receipts and replies are stored as they arrive on the bind.
        jobs.dispatcher(ReminderDispatch(reminders, partners))
        try:
            sms = partners.get(ShortMessageCentre)
        except LookupError:  # a wiring without an SMS centre
            pass
        else:
            sms.listen(reminders.handler(sessions, smsc.window_size))

            async def keep_bound(session: AsyncSession) -> int:
                # Receipts and replies arrive only on an open bind: hold one while any
                # reminder is not final, at any hour, so that a stop word sent overnight
                # stops the reminders queued for the morning.
                if await reminders.unsettled(session):
                    return int(await sms.keep_bound())
                return 0

            jobs.every("sms-bind", smsc.enquire_link_seconds, keep_bound, delay_first=True)
        return cls(
            settings=settings,
            catalog=catalog,
            engine=engine,
            sessions=sessions,
            keys=keys,
            tokens=tokens,
            metrics=metrics,
            partner_health=health,
            partners=partners,
            pseudonyms=pseudonyms,
            districts=districts,
            idempotency=IdempotencyService(sessions, keyring, pseudonyms),
            rules=load_rules(settings.contracts_dir / "policy" / "coresponsibility-rules.yaml"),
            # Its own engine: requests hold pooled connections while they wait for it.
            audit_writer=GroupCommitWriter(create_engine(settings.database_url)),
            clients=CachedClients(directory, versions),
            keyring=keyring,
            audit_keys=audit_keys,
            sealer=sealer,
            consents=consents,
            inbound=InboundService(
                sessions,
                keyring,
                keys,
                settings.token_issuer,
                districts,
                Limits(settings.inbound_max_row_bytes, settings.inbound_max_message_bytes),
            ),
            exchanges=exchanges,
            rate_limiter=RateLimiter(sessions, settings.rate_limit_per_minute),
            credentials=credentials,
            subscriptions=subscriptions,
            payments=payments,
            reminders=reminders,
            jobs=jobs,
        )

    async def aclose(self) -> None:
        await self.partners.aclose()
        await self.reminders.aclose()
        await self.subscriptions.aclose()
        await self.rate_limiter.aclose()
        await self.audit_writer.aclose()
        self.clients.dispose()
        await self.engine.dispose()


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.gateway
    return state
