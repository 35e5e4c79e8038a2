"""The Merkle tree of RFC 9162 (checked against the RFC 6962 test vectors of Certificate
Transparency), the audit key, and checkpoints as they are published."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from governance.audit.checkpoints import Checkpoint, signed_text
from governance.audit.keys import AuditKey, BadKey, PublicKey, SealError
from governance.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    inclusion_path,
    node_hash,
    root_from_path,
    tree_root,
)

# The leaves and roots of the Certificate Transparency test vectors (RFC 6962 trees).
INPUTS = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
          bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
ROOTS = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
         "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
         "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
         "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
         "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
         "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
         "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
LEAVES = [hashlib.sha256(b"\x00" + data).digest() for data in INPUTS]


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 9162's MTH, written as the RFC does."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


@pytest.mark.parametrize("size", range(1, 9))
def test_the_roots_are_those_of_the_test_vectors(size: int) -> None:
    assert tree_root(LEAVES[:size]).hex() == ROOTS[size - 1]


def test_the_paths_are_those_of_the_test_vectors() -> None:
    assert [p.hex()[:8] for p in inclusion_path(0, LEAVES)] == ["96a296d2", "5f083f0a",
                                                                 "6b47aaf2"]
    assert [p.hex()[:8] for p in inclusion_path(5, LEAVES)] == ["bc1a0643", "ca854ea1",
                                                                 "d37ee418"]


def test_a_growing_frontier_keeps_the_root_of_every_size() -> None:
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(70)]
    frontier = Frontier()
    for size, leaf in enumerate(leaves, 1):
        frontier.append(leaf)
        assert frontier.root() == reference_root(leaves[:size])
        assert len(frontier.roots) == bin(size).count("1")
    resumed = Frontier(frontier.size, frontier.roots)  # as a checkpoint stores it
    resumed.append(leaves[0])
    assert resumed.root() == reference_root([*leaves, leaves[0]])


def test_an_inclusion_path_leads_to_the_root_and_only_for_its_leaf() -> None:
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(23)]
    root = reference_root(leaves)
    for index in range(23):
        path = inclusion_path(index, leaves)
        assert root_from_path(index, 23, leaves[index], path) == root
        assert root_from_path(index, 23, leaves[(index + 1) % 23], path) != root
        assert root_from_path(index, 23, leaves[index], path[:-1]) is None


def test_seals_open_only_for_their_voter_and_key() -> None:
    key = AuditKey.generate()
    sealed = key.seal("vote:3:alice", b'["+1","yes","salt"]')
    assert key.open("vote:3:alice", sealed) == b'["+1","yes","salt"]'
    with pytest.raises(SealError):
        key.open("vote:3:bob", sealed)
    with pytest.raises(SealError):
        AuditKey.generate().open("vote:3:alice", sealed)
    assert AuditKey.from_text(key.text()).open("vote:3:alice", sealed)


def test_keys_say_what_is_wrong_with_them() -> None:
    with pytest.raises(BadKey, match="should start with 'roadie-audit-key:'"):
        AuditKey.from_text("hunter2")
    with pytest.raises(BadKey, match="not base64"):
        PublicKey.from_text("roadie-audit-pub:***")
    with pytest.raises(BadKey, match="holds 3 bytes"):
        PublicKey.from_text("roadie-audit-pub:AAAA")
    assert "key:" not in repr(AuditKey.generate())  # the private key is never printed


def test_published_checkpoints_are_found_in_any_text_and_their_signature_holds() -> None:
    key = AuditKey.generate()
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    import base64

    message = signed_text("org roadie audit log", 12, "ab" * 32, at)
    line = Checkpoint("org roadie audit log", 12, "ab" * 32, at, key.public.key_id,
                      base64.b64encode(key.sign(message)).decode()).line()
    chat = f"**Audit checkpoint: 12 entries**\n```\n{line}\n```\nsome other message"
    comments = json.dumps([{"body": chat}, {"body": "unrelated"}])
    for text in (line, chat, comments):
        [found] = Checkpoint.parse_all(text)
        assert found.size == 12
        assert found.signed_by(key.public)
    forged = json.loads(line) | {"size": 13}
    [moved] = Checkpoint.parse_all(json.dumps(forged, separators=(",", ":")))
    assert not moved.signed_by(key.public)
