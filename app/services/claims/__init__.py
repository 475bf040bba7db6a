"""Claims: the member's report, the operators' path (review → investigation → publicity → ready),
objections, and the public, anonymised announcements. Payout is in app/services/payouts.py; what
the API lists and shows is in app/services/claim_views.py.

Every status change goes through `change_status`: a compare-and-set UPDATE (WHERE status = from), a
timeline entry the member sees, a `claim.status_changed` event, and (for operators) an audit entry,
all in one transaction.

The package, by subject: core (statuses, transitions, the timeline, a claim's documents and
objections), reporting (the member's side), review (review and investigation, separation of
duties), publicity (announcements, objections, the end of publicity). The public names are
re-exported here: `from app.services.claims import report` keeps working."""
from .core import (
    ALLOWED, MEMBER_EDITABLE, STATUS_WORDS, add_timeline_entry, change_status, documents, lock_claim, objections,
    timeline,
)
from .publicity import (
    Announcement, get_announcement, list_announcements, object_to, promote_finished_publicity,
    resolve_objection,
)
from .reporting import REPORT_WITHIN_DAYS, ReportRequest, get_for_user, report, resubmit, withdraw
from .review import (
    InvestigationReport, assign, claim_rules, ensure_separate_duties, get_for_operator, reject, return_to_member,
    start_review, submit_report, visible_to,
)

__all__ = [
    "ALLOWED", "MEMBER_EDITABLE", "REPORT_WITHIN_DAYS", "STATUS_WORDS", "Announcement",
    "InvestigationReport", "ReportRequest", "add_timeline_entry", "assign", "change_status", "claim_rules",
    "documents", "ensure_separate_duties", "get_announcement", "get_for_operator", "get_for_user",
    "list_announcements", "lock_claim", "object_to", "objections", "promote_finished_publicity", "reject",
    "report", "resolve_objection", "resubmit", "return_to_member", "start_review", "submit_report", "timeline",
    "visible_to", "withdraw",
]
