"""Published interface of the status app: the catalogue of statuses and the grants of them to members.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

What a status permits is data (``{permission: value}``), checked against the permission registry of
the authorization app. After every change to a member's grants (granted, revoked, expired) or to a
status's permissions, the member's grants that are not over are handed to the permission engine
(``authorization.services.access_statuses_set``) in the same transaction, so the engine never
answers from a grant that was rolled back, and a check costs it one query of its own tables.

The module is a package by concern: ``grants`` (the catalogue, grants, reads for others), ``plans``
(statuses for sale and the shop), ``rules`` (statuses given automatically). Import from here.
"""

from __future__ import annotations

from apps.status.services.grants import (
    SOURCES,
    GrantState,
    StatusBadge,
    StatusGrantRef,
    StatusRef,
    grant_period_problems,
    status_badges_for,
    status_badges_kept,
    status_catalogue,
    status_define,
    status_get,
    status_grant,
    status_grants_ending,
    status_grants_of,
    status_revoke,
    statuses_active_for,
    statuses_expire_due,
    statuses_held_by,
)
from apps.status.services.plans import (
    PLAN_PRODUCT_APP,
    PermissionGiven,
    PlanInvoice,
    ShopStatus,
    StatusPlanRef,
    plan_buy,
    plan_fulfil,
    plan_price_problems,
    plan_renew,
    plan_renewal_of,
    plan_save,
    shop_catalogue,
    status_plans,
    status_plans_sync,
)
from apps.status.services.rules import (
    AutomaticStatus,
    RuleFactProvider,
    RuleProgress,
    activity_count,
    automatic_progress_for,
    rule_fact_register,
    rules_evaluate,
    rules_evaluate_all,
)

__all__ = [
    "PLAN_PRODUCT_APP",
    "SOURCES",
    "AutomaticStatus",
    "GrantState",
    "PermissionGiven",
    "PlanInvoice",
    "RuleFactProvider",
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
    "plan_renewal_of",
    "plan_save",
    "rule_fact_register",
    "rules_evaluate",
    "rules_evaluate_all",
    "shop_catalogue",
    "status_badges_for",
    "status_badges_kept",
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
