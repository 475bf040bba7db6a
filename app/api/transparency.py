"""Transparency views: a plan's hash chain, a run's record and leaves (public), a member's proof."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from app.extensions import db
from app.services import memberships as membership_service
from app.services import transparency as service

from .schemas import ErrorEnvelope
from .error_docs import errors
from .security import BEARER, member_required
from .transparency_schemas import ChainOut, LeavesOut, LeavesQuery, ProofOut, RecordOut

blp = Blueprint("transparency", __name__, url_prefix="/api/v1",
                description="Verifiable runs: hash chains, Merkle leaves and inclusion proofs")


@blp.route("/plans/<string:code>/chain", methods=["GET"])
@blp.response(200, ChainOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@errors("plan_not_found")
def get_chain(code):
    """The plan's hash chain: every executed run's Merkle root and every monthly report's hash, linked."""
    return {"items": service.chain(db.session, code)}


@blp.route("/plans/<string:code>/runs/<int:run_id>/record", methods=["GET"])
@blp.response(200, RecordOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@errors("plan_not_found", "run_not_found", "run_record_not_found")
def get_run_record(code, run_id):
    """An executed run's chain record: tree size, total, Merkle root, previous record's hash."""
    return service.run_record(db.session, code, run_id)


@blp.route("/plans/<string:code>/runs/<int:run_id>/leaves", methods=["GET"])
@blp.arguments(LeavesQuery, location="query")
@blp.response(200, LeavesOut)
@blp.alt_response(404, schema=ErrorEnvelope)
@errors("plan_not_found", "run_not_found", "run_record_not_found", "run_record_incomplete", "page_invalid")
def get_run_leaves(query, code, run_id):
    """A page of the run's leaves in tree order (pseudonyms and amounts): recompute the root from all pages."""
    return service.leaves_page(db.session, code, run_id, offset=query["offset"], limit=query["limit"])


@blp.route("/memberships/<int:membership_id>/deductions/<int:run_id>/proof", methods=["GET"])
@member_required
@blp.response(200, ProofOut)
@blp.alt_response(404, schema=ErrorEnvelope, description="not your membership, or no debit of it in this run")
@blp.doc(security=BEARER)
@errors("membership_not_found", "run_not_found", "run_record_not_found", "debit_not_found")
def get_debit_proof(membership_id, run_id):
    """Your debit's inclusion proof: your secret, your pseudonym and leaf, its audit path to the published root."""
    membership_service.get_for_user(db.session, g.user_id, membership_id)  # someone else's: 404
    return service.debit_proof(db.session, membership_id, run_id)
