"""A Merkle tree over the log's entries, as in RFC 9162 (Certificate Transparency 2.0).

A leaf is `SHA-256(0x00 || entry hash)`, an inner node `SHA-256(0x01 || left || right)`,
and the root of n leaves is RFC 9162's MTH. `Frontier` keeps only the roots of the perfect
subtrees that make up the tree so far (at most log2(n) of them), so that a tree grows one
leaf at a time and a checkpoint only hashes the entries appended since the last one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class Frontier:
    """The right edge of a growing tree: the roots of its perfect subtrees, largest first."""

    def __init__(self, size: int = 0, roots: Sequence[bytes] = ()) -> None:
        if len(roots) != bin(size).count("1"):
            raise ValueError(f"a tree of {size} leaves has {bin(size).count('1')} subtree "
                             f"roots, not {len(roots)}")
        self.size = size
        self.roots = list(roots)

    def append(self, leaf: bytes) -> None:
        self.roots.append(leaf)
        size = self.size
        while size & 1:  # each trailing 1 bit is a subtree of the same height to merge
            right = self.roots.pop()
            self.roots[-1] = node_hash(self.roots[-1], right)
            size >>= 1
        self.size += 1

    def root(self) -> bytes:
        if not self.roots:
            return EMPTY_ROOT
        root = self.roots[-1]
        for left in reversed(self.roots[:-1]):
            root = node_hash(left, root)
        return root

    def copy(self) -> Frontier:
        return Frontier(self.size, list(self.roots))


def tree_root(leaves: Sequence[bytes]) -> bytes:
    frontier = Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 PATH(m, D[n]): the hashes that lead from leaf `index` to the root."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)} leaves")
    path: list[bytes] = []
    low, high = 0, len(leaves)
    while high - low > 1:
        k = _split(high - low)
        if index - low < k:
            path.append(tree_root(leaves[low + k:high]))
            high = low + k
        else:
            path.append(tree_root(leaves[low:low + k]))
            low += k
    path.reverse()  # the sibling nearest the leaf comes first
    return path


def root_from_path(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """RFC 9162 section 2.1.3.2: the root that an inclusion path leads to, or None when the
    path has the wrong length for a leaf at `index` in a tree of `size`."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None
