"""Rule changes with the members' consent (docs/rule-changes.md; domain.md, "Rule changes").

A changed plan in the catalogue never becomes a silently used version. `flask plans load` stores the
changed rules as a new plan_versions row that is NOT the plan's current version (nobody joins under
it, no membership holds it) and opens a proposal: the differences in plain words, a consent window,
an effective date and a notice period. Members answer once per membership, by its payer.

At the window's end (`close_due`, the scheduler and `flask proposals close`) the frozen tally decides:
passed when agree × denominator ≥ numerator × answered AND answered × 100 ≥ min turnout % × eligible
(eligible = memberships in an active state: those the change would bind; answers count while their
membership is active). On the effective date (`apply_due`) a passed proposal comes into force: in one
transaction every active membership of the plan moves to the new version (one UPDATE) and the plan's
current version becomes it. A failed proposal is archived; nothing changes. A plan that winds down withdraws its pending proposal
(`withdraw_for_wind_down`, when the wind-down is confirmed) and no new one is opened for it. Every step is appended to
the audit chain and recorded as a domain event (the outbox pushes "proposal.opened" to the members).

A plan with no active membership has nobody to ask: its changed rules are adopted at once (audited).

The package, by subject: core (settings, tally, a step's audit line, finding a proposal), wording
(the differences in plain words; the age-group text the plan pages share), proposing (from the
catalogue, and answering), closing (close, bring into force, advance, the rules in force for
apportionment), views (what the API, console and CLI read). The public names are re-exported here:
`from app.services import rule_changes; rule_changes.advance(...)` keeps working."""
from .closing import AdvanceResult, advance, bring_into_force, close, version_in_force, withdraw_for_wind_down
from .core import (AGREE_RATIO_WORDS, PENDING_STATUSES, TARGET, ProposalSettings, Quorum, Tally, audit,
                   eligible_count, get_proposal, is_window_open, live_tally, not_found, quorum_of, tally_of)
from .proposing import AnswerResult, answer, catalogue_change, open_proposal, pending_proposal
from .views import all_proposals, describe, for_membership, for_plan, may_leave_with_full_refund, plan_code_of, public
from .wording import age_group_text, differences

__all__ = [
    "AGREE_RATIO_WORDS", "PENDING_STATUSES", "TARGET", "AdvanceResult", "AnswerResult", "ProposalSettings", "Quorum",
    "Tally", "advance", "age_group_text", "all_proposals", "answer", "audit", "bring_into_force", "catalogue_change",
    "close", "describe", "differences", "eligible_count", "for_membership", "for_plan", "get_proposal",
    "is_window_open", "live_tally", "may_leave_with_full_refund", "not_found", "open_proposal", "pending_proposal",
    "plan_code_of", "public", "quorum_of", "tally_of", "version_in_force", "withdraw_for_wind_down",
]
