"""Statuses for sale: plans registered as the payment app's products, bought, renewed, fulfilled; the shop."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.authorization.services import (
    PermissionValue,
    permission_catalogue,
)
from apps.payment.services import invoice_create, product_deactivate, product_register
from apps.status import selectors
from apps.status.models import (
    REFERENCE_MAX_LENGTH,
    GrantSource,
    PlanPurchase,
    StatusPlan,
)
from apps.status.services.grants import StatusGrantRef, _grant_ref, _lock_member, status_grant
from forum.errors import Conflict, NotFound, ValidationFailed

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
