"""The shared Embeddings container: dense and ragged layouts, selection, concatenation."""

from __future__ import annotations

import pytest
import torch

from jinavdr.models.embeddings import Embeddings


def test_dense_item_and_len():
    e = Embeddings.dense(torch.arange(6, dtype=torch.float32).reshape(3, 2))
    assert len(e) == 3 and not e.is_multi and e.dim == 2
    assert e.item(1).tolist() == [2.0, 3.0]
    assert e.lengths().tolist() == [1, 1, 1]


def test_ragged_round_trip_with_empty_item():
    items = [torch.ones(2, 4), torch.zeros(0, 4), torch.full((3, 4), 2.0)]
    e = Embeddings.from_list(items)
    assert e.offsets.tolist() == [0, 2, 2, 5]
    assert e.lengths().tolist() == [2, 0, 3]
    assert e.select([0, 1, 2]).offsets.tolist() == [0, 2, 2, 5]
    assert torch.equal(e.item(2), items[2])
    assert e.item(1).shape == (0, 4)
    picked = e.select([2, 0])
    assert picked.offsets.tolist() == [0, 3, 5]
    assert torch.equal(picked.item(0), items[2])


def test_concat_ragged_shifts_offsets():
    a = Embeddings.from_list([torch.ones(1, 2), torch.ones(2, 2)])
    b = Embeddings.from_list([torch.zeros(3, 2)])
    c = Embeddings.concat([a, b])
    assert c.offsets.tolist() == [0, 1, 3, 6]
    assert torch.equal(c.item(2), torch.zeros(3, 2))


def test_concat_refuses_mixed_kinds():
    with pytest.raises(ValueError, match="dense and multi-vector"):
        Embeddings.concat([Embeddings.dense(torch.ones(1, 2)), Embeddings.from_list([torch.ones(1, 2)])])


def test_bad_offsets_rejected():
    with pytest.raises(ValueError, match="offsets must start at 0"):
        Embeddings(torch.ones(3, 2), torch.tensor([0, 1, 2]))


def test_empty_multi_needs_dim():
    with pytest.raises(ValueError, match="without dim"):
        Embeddings.from_list([])
    assert len(Embeddings.from_list([], dim=8)) == 0
