"""All models, imported here so that Base.metadata knows every table (Alembic reads it)."""
from .apportionment import OPEN_RUN_STATUSES, RUN_STATUSES, ApportionmentRun, ApportionmentRunCase
from .base import Base, BigId, UTCDateTime
from .claim_workflow import (OBJECTION_STATUSES, OPERATOR_ROLES, TRANSFER_STATUSES, ClaimDocument, ClaimObjection,
                             ClaimTimelineEntry, InvestigationOrganisation, Operator, OperatorAuditEntry, PayoutTransfer)
from .claims import CLAIM_STATUSES, INCIDENT_TYPES, OPEN_CLAIM_STATUSES, Claim
from .events import DomainEvent
from .ledger import ACCOUNT_KINDS, EXTERNAL_KINDS, Account, LedgerTransaction, Posting
from .memberships import ACTIVE_STATES, MEMBERSHIP_STATES, RELATIONS, Membership
from .payments import OPEN_ORDER_STATUSES, ORDER_STATUSES, REFUND_STATUSES, PaymentOrder, PaymentRefund
from .notifications import (FINAL_STATUSES, NOTIFICATION_STATUSES, GroupPresence, InviteQrCode, Notification,
                            SubscribeQuota)
from .plans import Plan, PlanStats, PlanVersion
from .privacy import (CONSENT_SCOPES, CORRECTION_STATUSES, AuditChainHead, AuditPublishedHead, Consent,
                      NameCorrection, PiiKey, PiiRotation)
from .reconciliation import MISMATCH_CATEGORIES, BillLine, BillMismatch, BillReconciliation
from .transparency import RECORD_KINDS, FinancialReport, MembershipSecret, TransparencyRecord
from .users import User
from .wind_down import BalanceReturn, BalanceReturnRefund, PlanWindDown, ReturnTransfer

__all__ = [
    "OBJECTION_STATUSES", "OPERATOR_ROLES", "TRANSFER_STATUSES", "ClaimDocument", "ClaimObjection",
    "ClaimTimelineEntry", "InvestigationOrganisation", "Operator", "OperatorAuditEntry", "PayoutTransfer",
    "ApportionmentRun", "ApportionmentRunCase", "OPEN_RUN_STATUSES", "RUN_STATUSES",
    "CLAIM_STATUSES", "Claim", "DomainEvent", "INCIDENT_TYPES", "OPEN_CLAIM_STATUSES",
    "ACCOUNT_KINDS", "ACTIVE_STATES", "Account", "Base", "BigId", "EXTERNAL_KINDS", "LedgerTransaction",
    "MEMBERSHIP_STATES", "Membership", "OPEN_ORDER_STATUSES", "ORDER_STATUSES", "PaymentOrder", "PaymentRefund",
    "REFUND_STATUSES", "Plan", "PlanStats", "PlanVersion", "Posting", "RELATIONS", "UTCDateTime", "User",
    "FINAL_STATUSES", "NOTIFICATION_STATUSES", "GroupPresence",
    "InviteQrCode", "Notification", "SubscribeQuota",
    "CONSENT_SCOPES", "CORRECTION_STATUSES", "AuditChainHead", "AuditPublishedHead", "Consent", "NameCorrection",
    "PiiKey", "PiiRotation",
    "MISMATCH_CATEGORIES", "BillLine", "BillMismatch", "BillReconciliation",
    "RECORD_KINDS", "FinancialReport", "MembershipSecret", "TransparencyRecord",
    "BalanceReturn", "BalanceReturnRefund", "PlanWindDown", "ReturnTransfer",
]
