"""All models, imported here so that Base.metadata knows every table (Alembic reads it)."""
from .apportionment import (OPEN_RUN_STATUSES, PUBLIC_RUN_STATUSES, RUN_STATUSES, ApportionmentRun,
                            ApportionmentRunCase, ApportionmentRunChunk, RunDebitLeaves)
from .base import Base, BigId, UTCDateTime
from .claims import (CLAIM_STATUSES, CLOSED_CLAIM_STATUSES, COLLECTABLE_CLAIM_STATUSES, COLLECTED_CLAIM_STATUSES,
                     INCIDENT_TYPES, OBJECTION_STATUSES, OPEN_CLAIM_STATUSES, PUBLISHED_CLAIM_STATUSES, Claim,
                     ClaimDocument, ClaimObjection, ClaimTimelineEntry)
from .events import DomainEvent
from .ledger import ACCOUNT_KINDS, EXTERNAL_KINDS, Account, LedgerTransaction, Posting
from .memberships import (ACTIVE_STATES, GOOD_STANDING, LEAVABLE_STATES, MEMBERSHIP_STATES, OBJECTING_STATES,
                          RELATIONS, Membership)
from .payments import OPEN_ORDER_STATUSES, ORDER_STATUSES, REFUND_STATUSES, PaymentOrder, PaymentRefund
from .notifications import (FINAL_STATUSES, NOTIFICATION_STATUSES, GroupPresence, InviteQrCode, Notification,
                            RunNoticePart, SubscribeQuota)
from .operators import OPERATOR_ROLES, InvestigationOrganisation, Operator, OperatorAuditEntry
from .payouts import TRANSFER_STATUSES, PayoutTransfer
from .plans import Plan, PlanStats, PlanVersion
from .privacy import (CONSENT_SCOPES, CORRECTION_STATUSES, AuditChainHead, AuditPublishedHead, Consent,
                      NameCorrection, PiiKey, PiiRotation)
from .reconciliation import (MISMATCH_CATEGORIES, RESOLUTION_OUTCOMES, BillLine, BillMismatch, BillMismatchResolution,
                             BillReconciliation)
from .rule_changes import ANSWERS, PROPOSAL_STATUSES, RuleChangeAnswer, RuleChangeProposal
from .transparency import RECORD_KINDS, FinancialReport, MembershipSecret, TransparencyRecord
from .users import User
from .wind_down import BalanceReturn, BalanceReturnRefund, PlanWindDown, ReturnTransfer

__all__ = [
    "OBJECTION_STATUSES", "OPERATOR_ROLES", "TRANSFER_STATUSES", "ClaimDocument", "ClaimObjection",
    "ClaimTimelineEntry", "InvestigationOrganisation", "Operator", "OperatorAuditEntry", "PayoutTransfer",
    "ApportionmentRun", "ApportionmentRunCase", "ApportionmentRunChunk", "OPEN_RUN_STATUSES", "PUBLIC_RUN_STATUSES",
    "RUN_STATUSES", "RunDebitLeaves", "RunNoticePart",
    "CLAIM_STATUSES", "CLOSED_CLAIM_STATUSES", "COLLECTABLE_CLAIM_STATUSES", "COLLECTED_CLAIM_STATUSES", "Claim",
    "DomainEvent", "INCIDENT_TYPES", "OPEN_CLAIM_STATUSES", "PUBLISHED_CLAIM_STATUSES",
    "ACCOUNT_KINDS", "ACTIVE_STATES", "GOOD_STANDING", "LEAVABLE_STATES", "OBJECTING_STATES", "Account", "Base",
    "BigId", "EXTERNAL_KINDS", "LedgerTransaction",
    "MEMBERSHIP_STATES", "Membership", "OPEN_ORDER_STATUSES", "ORDER_STATUSES", "PaymentOrder", "PaymentRefund",
    "REFUND_STATUSES", "Plan", "PlanStats", "PlanVersion", "Posting", "RELATIONS", "UTCDateTime", "User",
    "FINAL_STATUSES", "NOTIFICATION_STATUSES", "GroupPresence",
    "InviteQrCode", "Notification", "SubscribeQuota",
    "CONSENT_SCOPES", "CORRECTION_STATUSES", "AuditChainHead", "AuditPublishedHead", "Consent", "NameCorrection",
    "PiiKey", "PiiRotation",
    "MISMATCH_CATEGORIES", "RESOLUTION_OUTCOMES", "BillLine", "BillMismatch", "BillMismatchResolution",
    "BillReconciliation",
    "RECORD_KINDS", "FinancialReport", "MembershipSecret", "TransparencyRecord",
    "ANSWERS", "PROPOSAL_STATUSES", "RuleChangeAnswer", "RuleChangeProposal",
    "BalanceReturn", "BalanceReturnRefund", "PlanWindDown", "ReturnTransfer",
]
