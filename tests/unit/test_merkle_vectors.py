"""The vectors file the mini-program's JS verifier is tested on is what the Python side produces now."""
from app.services import merkle
from tests.support import merkle_vectors


def test_the_shared_vectors_are_current_and_verify():
    import json

    current = merkle_vectors.render()
    assert merkle_vectors.PATH.read_text() == current, "regenerate: .venv/bin/python -m tests.support.merkle_vectors"
    data = json.loads(current)
    assert {(p["tree_size"], p["leaf_index"]) for p in data["proofs"]} >= {(100_001, 0), (100_001, 50_000), (100_001, 100_000)}
    for p in data["proofs"]:
        assert merkle.verify_inclusion(bytes.fromhex(p["leaf"]), p["leaf_index"], p["tree_size"],
                                       [bytes.fromhex(h) for h in p["audit_path"]], bytes.fromhex(p["root"]))
