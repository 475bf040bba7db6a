"""Schemas of the transparency views: chain records, run leaves, a member's inclusion proof."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.services.transparency import MAX_LEAVES_PAGE

HEX = {"description": "lowercase hex"}


class RecordOut(Schema):
    v = fields.Integer(required=True, metadata={"description": "record format version"})
    plan = fields.String(required=True)
    sequence = fields.Integer(required=True, metadata={"description": "1, 2, … within the plan"})
    kind = fields.String(required=True, metadata={"description": "run | monthly_report"})
    previous = fields.String(required=True, metadata={"description": "the previous record's hash (64 zeros first)"})
    run_id = fields.Integer(metadata={"description": "kind run"})
    tree_size = fields.Integer(metadata={"description": "kind run: number of leaves (payers debited)"})
    total_fen = fields.Integer(metadata={"description": "kind run: Σ leaf amounts"})
    root = fields.String(metadata={"description": "kind run: RFC 6962 Merkle root, hex"})
    report_id = fields.Integer(metadata={"description": "kind monthly_report"})
    content_sha256 = fields.String(metadata={"description": "kind monthly_report: SHA-256 of the frozen report"})
    record_hash = fields.String(required=True, metadata={
        "description": "SHA-256 of the canonical JSON (sorted keys, no spaces) of the fields above"})
    created_at = fields.DateTime(required=True)


class ChainOut(Schema):
    items = fields.List(fields.Nested(RecordOut), required=True)


class LeavesQuery(Schema):
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=MAX_LEAVES_PAGE))


class LeafOut(Schema):
    index = fields.Integer(required=True)
    pseudonym = fields.String(required=True, metadata=HEX)
    amount_fen = fields.Integer(required=True)
    leaf = fields.String(required=True, metadata={
        "description": "hex of run id (8 bytes) ‖ pseudonym (32) ‖ amount_fen (8, signed), big-endian"})


class LeavesOut(Schema):
    run_id = fields.Integer(required=True)
    tree_size = fields.Integer(required=True)
    root = fields.String(required=True, metadata=HEX)
    items = fields.List(fields.Nested(LeafOut), required=True)
    next_offset = fields.Integer(required=True, allow_none=True)


class ProofOut(Schema):
    run_id = fields.Integer(required=True)
    plan_code = fields.String(required=True)
    member_secret = fields.String(required=True, metadata={
        "description": "shown only to this membership's payer: pseudonym = HMAC-SHA256(secret, 'yiqi/run-pseudonym/v1:' + run id)"})
    pseudonym = fields.String(required=True, metadata=HEX)
    amount_fen = fields.Integer(required=True)
    leaf = fields.String(required=True, metadata=HEX)
    leaf_index = fields.Integer(required=True)
    tree_size = fields.Integer(required=True)
    audit_path = fields.List(fields.String(), required=True, metadata={"description": "RFC 6962 audit path, leaf upwards"})
    root = fields.String(required=True, metadata={"description": "the published root"})
    computed_root = fields.String(required=True, metadata={"description": "the root recomputed from the ledger now"})
    record = fields.Nested(RecordOut, required=True)
