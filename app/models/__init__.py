"""All models, imported here so that Base.metadata knows every table (Alembic reads it)."""
from .base import Base, BigId, UTCDateTime
from .ledger import ACCOUNT_KINDS, EXTERNAL_KINDS, Account, LedgerTransaction, Posting
from .memberships import ACTIVE_STATES, MEMBERSHIP_STATES, RELATIONS, Membership
from .plans import Plan, PlanVersion
from .users import User

__all__ = [
    "ACCOUNT_KINDS", "ACTIVE_STATES", "Account", "Base", "BigId", "EXTERNAL_KINDS", "LedgerTransaction",
    "MEMBERSHIP_STATES", "Membership", "Plan", "PlanVersion", "Posting", "RELATIONS", "UTCDateTime", "User",
]
