"""All models, imported here so that Base.metadata knows every table (Alembic reads it)."""
from .apportionment import OPEN_RUN_STATUSES, RUN_STATUSES, ApportionmentRun, ApportionmentRunCase
from .base import Base, BigId, UTCDateTime
from .claims import CLAIM_STATUSES, INCIDENT_TYPES, OPEN_CLAIM_STATUSES, Claim
from .events import DomainEvent
from .ledger import ACCOUNT_KINDS, EXTERNAL_KINDS, Account, LedgerTransaction, Posting
from .memberships import ACTIVE_STATES, MEMBERSHIP_STATES, RELATIONS, Membership
from .plans import Plan, PlanVersion
from .users import User

__all__ = [
    "ApportionmentRun", "ApportionmentRunCase", "OPEN_RUN_STATUSES", "RUN_STATUSES",
    "CLAIM_STATUSES", "Claim", "DomainEvent", "INCIDENT_TYPES", "OPEN_CLAIM_STATUSES",
    "ACCOUNT_KINDS", "ACTIVE_STATES", "Account", "Base", "BigId", "EXTERNAL_KINDS", "LedgerTransaction",
    "MEMBERSHIP_STATES", "Membership", "Plan", "PlanVersion", "Posting", "RELATIONS", "UTCDateTime", "User",
]
