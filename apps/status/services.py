"""Published interface of the status app: the catalogue of statuses and the grants of them to members.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

What a status permits is data (``{permission: value}``), checked against the permission registry of
the authorization app. After every change to a member's grants (granted, revoked, expired) or to a
status's permissions, the member's grants that are not over are handed to the permission engine
(``authorization.services.access_statuses_set``) in the same transaction, so the engine never
answers from a grant that was rolled back, and a check costs it one query of its own tables.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.authentication.services import account_get
from apps.authorization.services import (
    PermissionValue,
    StatusPermissions,
    access_statuses_set,
    permission_catalogue,
    permission_values_validate,
    permissions_for,
)
from apps.payment.services import invoice_create, product_deactivate, product_register
from apps.status import selectors
from apps.status.events import (
    StatusExpired,
    StatusGranted,
    StatusRevoked,
    StatusRuleGranted,
    StatusRuleRevoked,
)
from apps.status.models import (
    REFERENCE_MAX_LENGTH,
    AutomaticStanding,
    GrantSource,
    MemberActivity,
    PlanPurchase,
    RuleKind,
    Status,
    StatusGrant,
    StatusPlan,
    StatusRule,
)
from forum.bus import publish
from forum.errors import Conflict, NotFound, ValidationFailed

__all__ = [
    "PLAN_PRODUCT_APP",
    "GrantState",
    "PlanInvoice",
    "RuleProgress",
    "ShopStatus",
    "StatusBadge",
    "StatusGrantRef",
    "StatusPlanRef",
    "StatusRef",
    "activity_count",
    "automatic_progress_for",
    "grant_period_problems",
    "plan_buy",
    "plan_fulfil",
    "plan_price_problems",
    "plan_renew",
    "plan_save",
    "rules_evaluate",
    "rules_evaluate_all",
    "shop_catalogue",
    "status_badges_for",
    "status_catalogue",
    "status_define",
    "status_get",
    "status_grant",
    "status_grants_ending",
    "status_grants_of",
    "status_plans",
    "status_plans_sync",
    "status_revoke",
    "statuses_active_for",
    "statuses_expire_due",
    "statuses_held_by",
]

SOURCES = frozenset(source.value for source in GrantSource)
# An arbitrary constant that keeps this app's advisory locks apart from anyone else's.
_MEMBER_LOCK_NAMESPACE = 0x5354_4154 << 32


class GrantState(StrEnum):
    SCHEDULED = "scheduled"  # starts later
    ACTIVE = "active"
    ENDED = "ended"  # ran out
    REVOKED = "revoked"


@dataclass(frozen=True)
class StatusRef:
    code: str
    name: str  # in the active language
    description: str  # in the active language
    permissions: Mapping[str, PermissionValue]
    position: int


@dataclass(frozen=True)
class StatusGrantRef:
    grant_id: int
    user_id: int
    status_code: str
    status_name: str  # in the active language
    starts_at: datetime.datetime
    ends_at: datetime.datetime | None  # None: for good
    source: str
    granted_by: int | None
    reference: str
    revoked_at: datetime.datetime | None
    expired_at: datetime.datetime | None
    state: GrantState  # at the moment the reference was made
    # A bought timed grant whose plan is still on sale: where its holder renews it in one click.
    renew_url: str = ""


def _status_ref(status: Status) -> StatusRef:
    return StatusRef(
        code=status.code,
        name=_(status.name) if status.name else "",
        description=_(status.description) if status.description else "",
        permissions=dict(status.permissions or {}),
        position=status.position,
    )


def _state(grant: StatusGrant, now: datetime.datetime) -> GrantState:
    if grant.revoked_at is not None:
        return GrantState.REVOKED
    if grant.expired_at is not None or (grant.ends_at is not None and grant.ends_at <= now):
        return GrantState.ENDED
    if grant.starts_at > now:
        return GrantState.SCHEDULED
    return GrantState.ACTIVE


def _grant_ref(grant: StatusGrant, now: datetime.datetime) -> StatusGrantRef:
    return StatusGrantRef(
        grant_id=grant.pk,
        user_id=grant.user_id,
        status_code=grant.status.code,
        status_name=_(grant.status.name) if grant.status.name else "",
        starts_at=grant.starts_at,
        ends_at=grant.ends_at,
        source=grant.source,
        granted_by=grant.granted_by_id,
        reference=grant.reference,
        revoked_at=grant.revoked_at,
        expired_at=grant.expired_at,
        state=_state(grant, now),
    )


# --- The catalogue ------------------------------------------------------------------------------------


def status_catalogue() -> list[StatusRef]:
    return [_status_ref(status) for status in selectors.statuses_listed()]


def status_get(*, code: str) -> StatusRef:
    status = selectors.status_by_code(code=code)
    if status is None:
        raise NotFound(_("There is no such status."))
    return _status_ref(status)


def status_define(
    *,
    code: str,
    name: str,
    permissions: Mapping[str, object],
    description: str = "",
    position: int = 0,
) -> StatusRef:
    """Create a status or change the one with this code; its holders get the new permissions at once."""
    problems: dict[str, list[str]] = {}
    if not code or slugify(code) != code:
        problems["code"] = [_("Use lowercase letters, digits and hyphens.")]
    if not name.strip():
        problems["name"] = [_("A status needs a name.")]
    if position < 0:
        problems["position"] = [_("Use 0 or more.")]
    try:
        clean = permission_values_validate(values=permissions)
    except ValidationFailed as error:
        problems.update({f"permissions.{key}": messages for key, messages in error.fields.items()})
    if problems:
        raise ValidationFailed(_("The status is not valid."), fields=problems)
    with transaction.atomic():
        status, _created = Status.objects.update_or_create(
            code=code,
            defaults={
                "name": name.strip(),
                "description": description.strip(),
                "permissions": clean,
                "position": position,
            },
        )
        for user_id in selectors.holders_of(status_id=status.pk, now=timezone.now()):
            _sync_member(user_id)
    return _status_ref(status)


# --- Grants -------------------------------------------------------------------------------------------


def _lock_member(user_id: int) -> None:
    """Serialise changes to one member's grants until the transaction ends, so that two concurrent
    changes never hand the permission engine a list that misses the other's grant."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_MEMBER_LOCK_NAMESPACE + user_id])


def _sync_member(user_id: int) -> None:
    """Hand the permission engine every grant of the member that is not over (inside the transaction)."""
    now = timezone.now()
    access_statuses_set(
        user_id=user_id,
        grants=[
            StatusPermissions(
                status_code=grant.status.code,
                values=dict(grant.status.permissions or {}),
                starts_at=grant.starts_at,
                ends_at=grant.ends_at,
            )
            for grant in selectors.grants_not_over(user_id=user_id, now=now)
        ],
    )


def grant_period_problems(
    *, starts_at: datetime.datetime, ends_at: datetime.datetime | None, now: datetime.datetime
) -> dict[str, list[str]]:
    """What is wrong with a grant's period (empty when nothing is): used by the service and the admin."""
    problems: dict[str, list[str]] = {}
    if timezone.is_naive(starts_at):
        problems["starts_at"] = [_("Give a time zone.")]
    if ends_at is not None:
        if timezone.is_naive(ends_at):
            problems["ends_at"] = [_("Give a time zone.")]
        elif not problems and ends_at <= max(starts_at, now):
            problems["ends_at"] = [_("The end must come after the start and lie in the future.")]
    return problems


def status_grant(
    *,
    user_id: int,
    status_code: str,
    source: str,
    ends_at: datetime.datetime | None = None,
    starts_at: datetime.datetime | None = None,
    granted_by: int | None = None,
    reference: str = "",
) -> StatusGrantRef:
    """Give a member a status from ``starts_at`` (default now) until ``ends_at`` (None: for good).

    ``source`` is ``purchase``, ``automatic`` or ``staff``. Publishes ``status.granted``.
    """
    now = timezone.now()
    starts_at = starts_at or now
    problems = grant_period_problems(starts_at=starts_at, ends_at=ends_at, now=now)
    if source not in SOURCES:
        problems["source"] = [_("Choose purchase, automatic or staff.")]
    if len(reference) > REFERENCE_MAX_LENGTH:
        problems["reference"] = [_("The reference is too long.")]
    if problems:
        raise ValidationFailed(_("The grant is not valid."), fields=problems)
    status = selectors.status_by_code(code=status_code)
    if status is None:
        raise NotFound(_("There is no such status."))
    wanted_accounts = {user_id} if granted_by is None else {user_id, granted_by}
    if get_user_model().objects.filter(pk__in=wanted_accounts).count() != len(wanted_accounts):
        raise NotFound(_("There is no such member."))
    with transaction.atomic():
        _lock_member(user_id)
        grant = StatusGrant.objects.create(
            user_id=user_id,
            status=status,
            starts_at=starts_at,
            ends_at=ends_at,
            source=source,
            granted_by_id=granted_by,
            reference=reference,
        )
        publish(
            StatusGranted(
                grant_id=grant.pk,
                user_id=user_id,
                status_code=status.code,
                starts_at=starts_at,
                ends_at=ends_at,
                source=source,
                granted_by=granted_by,
            )
        )
        _sync_member(user_id)
    return _grant_ref(grant, now)


def status_revoke(*, grant_id: int, revoked_by: int | None = None) -> StatusGrantRef:
    """Take a status back before its end. Publishes ``status.revoked``; refuses a grant already over."""
    with transaction.atomic():
        grant = selectors.grant_for_update(grant_id=grant_id)
        if grant is None:
            raise NotFound(_("There is no such grant."))
        now = timezone.now()
        state = _state(grant, now)
        if state is GrantState.REVOKED:
            raise Conflict(_("This grant has already been revoked."))
        if state is GrantState.ENDED:
            raise Conflict(_("This grant has already ended."))
        _lock_member(grant.user_id)
        grant.revoked_at = now
        grant.revoked_by_id = revoked_by
        grant.save(update_fields=["revoked_at", "revoked_by"])
        publish(
            StatusRevoked(
                grant_id=grant.pk,
                user_id=grant.user_id,
                status_code=grant.status.code,
                revoked_by=revoked_by,
            )
        )
        _sync_member(grant.user_id)
    return _grant_ref(grant, now)


def _expire_batch(batch: int) -> int:
    with transaction.atomic():
        now = timezone.now()
        due = selectors.grants_due(now=now, batch=batch)
        for grant in due:
            grant.expired_at = now
            publish(
                StatusExpired(
                    grant_id=grant.pk,
                    user_id=grant.user_id,
                    status_code=grant.status.code,
                    ended_at=grant.ends_at or now,
                )
            )
        StatusGrant.objects.bulk_update(due, ["expired_at"])
        for user_id in sorted({grant.user_id for grant in due}):
            _lock_member(user_id)
            _sync_member(user_id)
    return len(due)


def statuses_expire_due(*, batch: int = 500) -> int:
    """Mark every grant whose end has passed as expired and publish ``status.expired`` for each.

    Run every minute by the ``status.expire_grants`` task. The engine already stops honouring a grant
    at its end; this makes the end a fact others can act on (a notification, a badge removed).
    """
    total = 0
    while True:
        expired = _expire_batch(batch)
        total += expired
        if expired < batch:
            return total


# --- Reads for others ---------------------------------------------------------------------------------


def status_grants_of(*, user_id: int) -> list[StatusGrantRef]:
    """Every grant the member ever had, newest first."""
    now = timezone.now()
    return [_grant_ref(grant, now) for grant in selectors.grants_of(user_id=user_id)]


def status_grants_ending(*, within: datetime.timedelta) -> list[StatusGrantRef]:
    """The grants that give a status now and end within ``within`` from now (neither revoked nor
    expired), soonest first: for warning their holders before the end (one query)."""
    now = timezone.now()
    candidates = (
        StatusGrant.objects.filter(
            revoked_at__isnull=True,
            expired_at__isnull=True,
            starts_at__lte=now,
            ends_at__gt=now,
            ends_at__lte=now + within,
        )
        .select_related("status")
        .order_by("ends_at", "pk")
    )
    grants = [grant for grant in candidates if not _continued(grant, now)]
    renewals = selectors.renewable_plans_of(grant_ids=[grant.pk for grant in grants])
    return [
        dataclasses.replace(_grant_ref(grant, now), renew_url=_renew_url(grant.pk))
        if grant.pk in renewals
        else _grant_ref(grant, now)
        for grant in grants
    ]


def _continued(grant: StatusGrant, now: datetime.datetime) -> bool:
    """Whether the member keeps the status past this grant's end (a later grant takes over, or one for
    good): nothing ends then, so nobody is told it does."""
    assert grant.ends_at is not None
    return (
        selectors.grants_not_over(user_id=grant.user_id, now=now)
        .filter(status_id=grant.status_id, starts_at__lte=grant.ends_at)
        .exclude(pk=grant.pk)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=grant.ends_at))
        .exists()
    )


def statuses_active_for(*, user_id: int) -> list[StatusGrantRef]:
    """The member's grants that give a status right now."""
    now = timezone.now()
    return [
        ref
        for ref in (_grant_ref(grant, now) for grant in selectors.grants_not_over(user_id=user_id, now=now))
        if ref.state is GrantState.ACTIVE
    ]


@dataclass(frozen=True)
class StatusBadge:
    """A status a member holds now, as a badge: its code (for styling) and name (active language)."""

    code: str
    name: str


def status_badges_for(*, user_ids: Collection[int]) -> dict[int, tuple[StatusBadge, ...]]:
    """The badges of the statuses each member holds now, in catalogue order, for a page of members in
    ONE query (every asked id is a key; a member without statuses has none)."""
    found: dict[int, list[StatusBadge]] = {user_id: [] for user_id in user_ids}
    for user_id, code, name in selectors.active_statuses_of(user_ids=list(user_ids), now=timezone.now()):
        held = found.setdefault(user_id, [])
        if all(badge.code != code for badge in held):  # two grants of one status: one badge
            held.append(StatusBadge(code=code, name=_(name) if name else ""))
    return {user_id: tuple(badges) for user_id, badges in found.items()}


def statuses_held_by(*, user_ids: list[int]) -> dict[int, list[str]]:
    """The codes of the statuses each member holds now (for badges on a page of posts, at once)."""
    return selectors.active_codes_of(user_ids=list(user_ids), now=timezone.now())


# --- Plans: statuses for sale -------------------------------------------------------------------------

# Plans are the payment app's products "status-plan:<id>" of this app; its invoices name them so.
PLAN_PRODUCT_APP = "status"
_PLAN_PRODUCT_PREFIX = "status-plan:"


@dataclass(frozen=True)
class StatusPlanRef:
    plan_id: int
    status_code: str
    status_name: str  # in the active language
    days: int | None  # None: for good
    price_sats: int | None  # None: priced in a currency
    active: bool
    price_fiat_cents: int | None = None  # hundredths of ``currency``
    currency: str = ""

    @property
    def btc_price(self) -> str:
        """The satoshi price in bitcoin ("0.0005"), from integers only, as the checkout page writes it."""
        if self.price_sats is None:
            return ""
        whole, fraction = divmod(self.price_sats, 100_000_000)
        return f"{whole}.{fraction:08d}".rstrip("0").rstrip(".")

    @property
    def fiat_price(self) -> str:
        """The currency price as a decimal string ("12.50"), from integers only."""
        if self.price_fiat_cents is None:
            return ""
        whole, cents = divmod(self.price_fiat_cents, 100)
        return f"{whole}.{cents:02d}"

    @property
    def permanent(self) -> bool:
        return self.days is None

    @property
    def product_code(self) -> str:
        return f"{_PLAN_PRODUCT_PREFIX}{self.plan_id}"


@dataclass(frozen=True)
class PlanInvoice:
    """An invoice made for a plan: pay it on ``checkout_url``."""

    invoice_id: str
    plan_id: int
    amount_sats: int
    checkout_url: str


def _plan_ref(plan: StatusPlan) -> StatusPlanRef:
    return StatusPlanRef(
        plan_id=plan.pk,
        status_code=plan.status.code,
        status_name=_(plan.status.name) if plan.status.name else "",
        days=plan.days,
        price_sats=None if plan.price_sats is None else int(plan.price_sats),
        active=plan.active,
        price_fiat_cents=None if plan.price_fiat_cents is None else int(plan.price_fiat_cents),
        currency=plan.currency,
    )


def _plan_title(plan: StatusPlan) -> str:
    # Stored by the payment app and shown on invoices in any language: the catalogue's own words.
    if plan.days is None:
        return f"{plan.status.name}, permanent"
    return f"{plan.status.name}, {plan.days} days"


def _plan_register(plan: StatusPlan) -> None:
    """Keep the payment app's product in step with the plan (on sale only while the plan is)."""
    if plan.active:
        product_register(
            app_label=PLAN_PRODUCT_APP,
            code=f"{_PLAN_PRODUCT_PREFIX}{plan.pk}",
            title=_plan_title(plan),
            price_sats=None if plan.price_sats is None else int(plan.price_sats),
            price_fiat_cents=None if plan.price_fiat_cents is None else int(plan.price_fiat_cents),
            currency=plan.currency,
            # The checkout page's way back once paid: the shop, which shows the status held.
            return_url=reverse("status:shop"),
        )
    else:
        product_deactivate(app_label=PLAN_PRODUCT_APP, code=f"{_PLAN_PRODUCT_PREFIX}{plan.pk}")


def plan_price_problems(
    *, price_sats: int | None, price_fiat_cents: int | None, currency: str
) -> dict[str, list[str]]:
    """What is wrong with a plan's price (empty when nothing is): used by ``plan_save`` and the admin."""
    problems: dict[str, list[str]] = {}
    if (price_sats is None) == (price_fiat_cents is None):
        problems["price_sats"] = [_("Give one price: in satoshis or in a currency.")]
    elif price_sats is not None:
        if isinstance(price_sats, bool) or not isinstance(price_sats, int) or price_sats <= 0:
            problems["price_sats"] = [_("A price is a whole positive number of satoshis.")]
        if currency:
            problems["currency"] = [_("A price in satoshis has no currency.")]
    else:
        if (
            isinstance(price_fiat_cents, bool)
            or not isinstance(price_fiat_cents, int)
            or price_fiat_cents <= 0
        ):
            problems["price_fiat_cents"] = [_("A price is a whole positive number of hundredths.")]
        if currency not in settings.PAYMENT_FIAT_CURRENCIES:
            problems["currency"] = [
                _("Choose one of %(currencies)s.")
                % {"currencies": ", ".join(settings.PAYMENT_FIAT_CURRENCIES)}
            ]
    return problems


def plan_save(
    *,
    status_code: str,
    days: int | None,
    price_sats: int | None = None,
    price_fiat_cents: int | None = None,
    currency: str = "",
    active: bool = True,
    position: int = 0,
    plan_id: int | None = None,
) -> StatusPlanRef:
    """Create a plan (or change the one with ``plan_id``) and register it with the payment app.

    One price: ``price_sats`` whole satoshis, or ``price_fiat_cents`` hundredths of ``currency`` (one of
    PAYMENT_FIAT_CURRENCIES), turned into satoshis at the rate of the moment each invoice is made."""
    problems: dict[str, list[str]] = {}
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days <= 0):
        problems["days"] = [_("Use a whole number of days above 0, or none for a permanent status.")]
    currency = currency.strip().upper()
    problems.update(
        plan_price_problems(price_sats=price_sats, price_fiat_cents=price_fiat_cents, currency=currency)
    )
    if problems:
        raise ValidationFailed(_("The plan is not valid."), fields=problems)
    status = selectors.status_by_code(code=status_code)
    if status is None:
        raise NotFound(_("There is no such status."))
    with transaction.atomic():
        if plan_id is None:
            plan = StatusPlan(status=status)
        else:
            found = StatusPlan.objects.select_for_update().filter(pk=plan_id).first()
            if found is None:
                raise NotFound(_("There is no such plan."))
            plan = found
            plan.status = status
        plan.days, plan.active, plan.position = days, active, position
        plan.price_sats, plan.price_fiat_cents, plan.currency = price_sats, price_fiat_cents, currency
        plan.save()
        _plan_register(plan)
    return _plan_ref(plan)


def status_plans_sync() -> int:
    """Register every plan with the payment app again (after a status is renamed, or a restore)."""
    plans = list(StatusPlan.objects.select_related("status"))
    for plan in plans:
        _plan_register(plan)
    return len(plans)


def status_plans(*, status_code: str | None = None) -> list[StatusPlanRef]:
    """The plans on sale, in catalogue order (one query)."""
    return [_plan_ref(plan) for plan in selectors.plans_on_sale(status_code=status_code)]


def _checkout_url(invoice_id: str) -> str:
    return reverse("payment:checkout", kwargs={"public_id": invoice_id})


def _held_for_good(user_id: int, status_id: int, now: datetime.datetime) -> bool:
    return (
        selectors.grants_not_over(user_id=user_id, now=now)
        .filter(status_id=status_id, ends_at__isnull=True, starts_at__lte=now)
        .exclude(source=GrantSource.AUTOMATIC)
        .exists()
    )


def plan_buy(*, user_id: int, plan_id: int) -> PlanInvoice:
    """An invoice for a plan on sale. A timed plan of a status the member already holds for good is
    refused (Conflict): the permanent grant outranks it, so it would buy nothing."""
    plan = selectors.plan_on_sale(plan_id=plan_id)
    if plan is None:
        raise NotFound(_("This plan is not on sale."))
    if plan.days is not None and _held_for_good(user_id, plan.status_id, timezone.now()):
        raise Conflict(_("You hold this status for good already."))
    invoice = invoice_create(
        member_id=user_id,
        product_app=PLAN_PRODUCT_APP,
        product_code=f"{_PLAN_PRODUCT_PREFIX}{plan.pk}",
        product_ref=f"plan:{plan.pk}",
    )
    return PlanInvoice(
        invoice_id=invoice.public_id,
        plan_id=plan.pk,
        amount_sats=invoice.amount_sats,
        checkout_url=_checkout_url(invoice.public_id),
    )


def _renew_url(grant_id: int) -> str:
    return reverse("status:renew", kwargs={"grant_id": grant_id})


def plan_renew(*, user_id: int, grant_id: int) -> PlanInvoice:
    """An invoice for the plan that bought this grant of the member (their own only: 404 otherwise)."""
    purchase = selectors.purchase_of_grant(grant_id=grant_id)
    if purchase is None or purchase.user_id != user_id:
        raise NotFound(_("There is no such grant."))
    return plan_buy(user_id=user_id, plan_id=purchase.plan_id)


def plan_renewal_of(*, user_id: int, grant_id: int) -> StatusPlanRef:
    """The plan a renewal of the member's grant would buy (the page that asks to confirm)."""
    purchase = selectors.purchase_of_grant(grant_id=grant_id)
    if purchase is None or purchase.user_id != user_id:
        raise NotFound(_("There is no such grant."))
    plan = selectors.plan_on_sale(plan_id=purchase.plan_id)
    if plan is None:
        raise NotFound(_("This plan is not on sale."))
    return _plan_ref(plan)


def _purchase_period(
    user_id: int, plan: StatusPlan, now: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime | None]:
    """From when to when a bought plan gives its status.

    For good: from now. Timed: from the end of the member's latest timed grant of the status (bought
    or given by staff, not revoked) when that end is still ahead (an extension) or passed less than
    STATUS_RENEWAL_GRACE_DAYS ago (a renewal keeps continuity); otherwise from now.
    """
    if plan.days is None:
        return now, None
    latest_end = selectors.latest_timed_end(user_id=user_id, status_id=plan.status_id)
    grace = datetime.timedelta(days=settings.STATUS_RENEWAL_GRACE_DAYS)
    starts_at = latest_end if latest_end is not None and latest_end >= now - grace else now
    ends_at = starts_at + datetime.timedelta(days=plan.days)
    if ends_at <= now:  # a plan shorter than the gap: it would be over already
        return now, now + datetime.timedelta(days=plan.days)
    return starts_at, ends_at


def plan_fulfil(
    *, invoice_id: str, member_id: int, product_code: str, paid_sats: int
) -> StatusGrantRef | None:
    """Give the status a settled invoice bought, once per invoice whatever the retries (None when the
    invoice was fulfilled already or is not for a plan)."""
    if not product_code.startswith(_PLAN_PRODUCT_PREFIX):
        return None
    try:
        plan_id = int(product_code.removeprefix(_PLAN_PRODUCT_PREFIX))
    except ValueError:
        return None
    plan = StatusPlan.objects.select_related("status").filter(pk=plan_id).first()
    if plan is None:
        return None
    with transaction.atomic():
        _lock_member(member_id)
        try:
            with transaction.atomic():
                purchase = PlanPurchase.objects.create(
                    invoice_id=invoice_id, user_id=member_id, plan=plan, paid_sats=paid_sats
                )
        except IntegrityError:
            return None  # fulfilled already: the invoice id is unique
        starts_at, ends_at = _purchase_period(member_id, plan, timezone.now())
        grant = status_grant(
            user_id=member_id,
            status_code=plan.status.code,
            source=GrantSource.PURCHASE,
            starts_at=starts_at,
            ends_at=ends_at,
            reference=f"invoice:{invoice_id}"[:REFERENCE_MAX_LENGTH],
        )
        purchase.grant_id = grant.grant_id
        purchase.save(update_fields=["grant"])
    return grant


# --- The shop -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PermissionGiven:
    code: str
    description: str  # in the active language
    value: PermissionValue


@dataclass(frozen=True)
class ShopStatus:
    code: str
    name: str
    description: str
    gives: tuple[PermissionGiven, ...]
    plans: tuple[StatusPlanRef, ...]
    # The viewer's grants of it that are not over (running or to come), soonest first.
    held: tuple[StatusGrantRef, ...]

    @property
    def held_for_good(self) -> bool:
        return any(grant.ends_at is None and grant.source != GrantSource.AUTOMATIC for grant in self.held)

    @property
    def held_until(self) -> datetime.datetime | None:
        """The end of the last timed grant the viewer holds or has coming."""
        ends = [grant.ends_at for grant in self.held if grant.ends_at is not None]
        return max(ends) if ends else None


def shop_catalogue(*, viewer_id: int | None) -> list[ShopStatus]:
    """The statuses with plans on sale, what each gives (from the permission registry), their plans
    and the viewer's grants, in a fixed number of queries."""
    described = {info.code: info.description for info in permission_catalogue()}
    plans = selectors.plans_on_sale(status_code=None)
    by_status: dict[int, list[StatusPlan]] = {}
    for plan in plans:
        by_status.setdefault(plan.status_id, []).append(plan)
    now = timezone.now()
    held: dict[int, list[StatusGrantRef]] = {}
    if viewer_id is not None:
        for grant in selectors.grants_not_over(user_id=viewer_id, now=now).filter(
            status_id__in=list(by_status)
        ):
            held.setdefault(grant.status_id, []).append(_grant_ref(grant, now))
    shown: list[ShopStatus] = []
    for status_plans_ in by_status.values():
        status = status_plans_[0].status
        shown.append(
            ShopStatus(
                code=status.code,
                name=_(status.name) if status.name else "",
                description=_(status.description) if status.description else "",
                gives=tuple(
                    PermissionGiven(code=code, description=described.get(code, code), value=value)
                    for code, value in sorted((status.permissions or {}).items())
                    if code in described
                ),
                plans=tuple(_plan_ref(plan) for plan in status_plans_),
                held=tuple(held.get(status.pk, ())),
            )
        )
    return shown


# --- Automatic statuses -------------------------------------------------------------------------------


def activity_count(*, user_id: int, posts: int = 0, reaction_score: int = 0) -> None:
    """Add to what the rules count of a member (from other apps' events; negative takes away)."""
    if get_user_model().objects.filter(pk=user_id).exists():
        MemberActivity.objects.get_or_create(user_id=user_id)
        MemberActivity.objects.filter(user_id=user_id).update(
            posts=F("posts") + posts, reaction_score=F("reaction_score") + reaction_score
        )


@dataclass(frozen=True)
class RuleProgress:
    kind: str
    label: str  # "12 of 50 posts", in the active language
    have: int
    need: int

    @property
    def met(self) -> bool:
        return self.have >= self.need


@dataclass(frozen=True)
class AutomaticStatus:
    code: str
    name: str
    held: bool
    rules: tuple[RuleProgress, ...]


def _facts(user_id: int, now: datetime.datetime) -> dict[str, int]:
    activity = MemberActivity.objects.filter(user_id=user_id).first()
    try:
        joined = account_get(user_id=user_id).date_joined
    except NotFound:
        joined = now
    return {
        RuleKind.POSTS_MIN: activity.posts if activity else 0,
        RuleKind.REACTION_SCORE_MIN: activity.reaction_score if activity else 0,
        RuleKind.DAYS_MEMBER_MIN: max(0, (now - joined).days),
        RuleKind.NOT_BANNED: 0 if permissions_for(user_id=user_id).banned else 1,
    }


def _progress(rule: StatusRule, facts: dict[str, int]) -> RuleProgress:
    have = facts.get(rule.kind, 0)
    need = 1 if rule.kind == RuleKind.NOT_BANNED else int(rule.threshold)
    if rule.kind == RuleKind.POSTS_MIN:
        label = ngettext("%(have)d of %(need)d post", "%(have)d of %(need)d posts", need)
    elif rule.kind == RuleKind.DAYS_MEMBER_MIN:
        label = ngettext(
            "%(have)d of %(need)d day on the forum", "%(have)d of %(need)d days on the forum", need
        )
    elif rule.kind == RuleKind.REACTION_SCORE_MIN:
        label = ngettext(
            "%(have)d of %(need)d reaction received", "%(have)d of %(need)d reactions received", need
        )
    else:
        label = _("Not banned") if have else _("Banned now")
    return RuleProgress(
        kind=rule.kind, label=label % {"have": min(have, need), "need": need}, have=have, need=need
    )


def automatic_progress_for(*, user_id: int) -> list[AutomaticStatus]:
    """The statuses given by rules, whether the member holds each, and how far they are on each rule
    (for their profile), in a fixed number of queries."""
    now = timezone.now()
    rules = selectors.rules_by_status()
    if not rules:
        return []
    facts = _facts(user_id, now)
    held = set(
        selectors.grants_not_over(user_id=user_id, now=now)
        .filter(source=GrantSource.AUTOMATIC, starts_at__lte=now)
        .values_list("status_id", flat=True)
    )
    return [
        AutomaticStatus(
            code=status.code,
            name=_(status.name) if status.name else "",
            held=status.pk in held,
            rules=tuple(_progress(rule, facts) for rule in status_rules),
        )
        for status, status_rules in rules
    ]


def rules_evaluate(*, user_id: int) -> list[str]:
    """Grant the statuses whose rules now hold for the member and take back, after the grace period
    (STATUS_AUTOMATIC_GRACE_DAYS), those whose rules stopped holding. Returns what changed, as
    ``"+code"`` / ``"-code"``."""
    changed: list[str] = []
    rules = selectors.rules_by_status()
    if not rules:
        return changed
    now = timezone.now()
    facts = _facts(user_id, now)
    grace = datetime.timedelta(days=settings.STATUS_AUTOMATIC_GRACE_DAYS)
    with transaction.atomic():
        _lock_member(user_id)
        for status, status_rules in rules:
            holds = all(_progress(rule, facts).met for rule in status_rules)
            grant = (
                selectors.grants_not_over(user_id=user_id, now=now)
                .filter(status=status, source=GrantSource.AUTOMATIC)
                .first()
            )
            standing = AutomaticStanding.objects.filter(user_id=user_id, status=status)
            if holds:
                standing.delete()
                if grant is None:
                    ref = status_grant(
                        user_id=user_id,
                        status_code=status.code,
                        source=GrantSource.AUTOMATIC,
                        reference="rules",
                    )
                    publish(
                        StatusRuleGranted(grant_id=ref.grant_id, user_id=user_id, status_code=status.code)
                    )
                    changed.append(f"+{status.code}")
            elif grant is not None:
                failing, _created = AutomaticStanding.objects.get_or_create(
                    user_id=user_id, status=status, defaults={"failing_since": now}
                )
                if now - failing.failing_since >= grace:
                    status_revoke(grant_id=grant.pk)
                    publish(
                        StatusRuleRevoked(
                            grant_id=grant.pk,
                            user_id=user_id,
                            status_code=status.code,
                            failing_since=failing.failing_since,
                        )
                    )
                    standing.delete()
                    changed.append(f"-{status.code}")
            else:
                standing.delete()
    return changed


def rules_evaluate_all(*, batch: int = 500) -> int:
    """Every member against the rules (the daily run: days pass and grace periods end without any
    event). Returns how many grants changed."""
    if not selectors.rules_by_status():
        return 0
    changed = 0
    last = 0
    user_model = get_user_model()
    while True:
        ids = list(
            user_model.objects.filter(pk__gt=last, is_active=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        for user_id in ids:
            changed += len(rules_evaluate(user_id=user_id))
        if len(ids) < batch:
            return changed
        last = ids[-1]
