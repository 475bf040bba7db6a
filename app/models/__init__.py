"""All models, imported here so that Base.metadata knows every table (Alembic reads it)."""
from .base import Base, BigId, UTCDateTime
from .claims import CLAIM_STATUSES, INCIDENT_TYPES, OPEN_CLAIM_STATUSES, Claim
from .events import DomainEvent
from .ledger import ACCOUNT_KINDS, EXTERNAL_KINDS, Account, LedgerTransaction, Posting
from .memberships import ACTIVE_STATES, MEMBERSHIP_STATES, RELATIONS, Membership
from .notifications import (FINAL_STATUSES, NOTIFICATION_STATUSES, GroupPresence, InviteQrCode, Notification,
                            SubscribeQuota)
from .plans import Plan, PlanVersion
from .users import User

__all__ = [
    "CLAIM_STATUSES", "Claim", "DomainEvent", "INCIDENT_TYPES", "OPEN_CLAIM_STATUSES",
    "ACCOUNT_KINDS", "ACTIVE_STATES", "Account", "Base", "BigId", "EXTERNAL_KINDS", "LedgerTransaction",
    "MEMBERSHIP_STATES", "Membership", "FINAL_STATUSES", "NOTIFICATION_STATUSES", "GroupPresence",
    "InviteQrCode", "Notification", "SubscribeQuota", "Plan", "PlanVersion", "Posting", "RELATIONS", "UTCDateTime", "User",
]
