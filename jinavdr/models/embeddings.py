"""Dense or ragged multi-vector embeddings in one flat tensor.

Dense: ``data`` is [N, D] and ``offsets`` is None.
Multi-vector: ``data`` is [T, D] (all tokens of all items, concatenated, padding removed) and
``offsets`` is an int64 tensor [N + 1] so item ``i`` is ``data[offsets[i]:offsets[i+1]]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Embeddings:
    data: torch.Tensor
    offsets: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise ValueError(f"embeddings must be 2-D, got shape {tuple(self.data.shape)}")
        if self.offsets is not None:
            if self.offsets.ndim != 1 or self.offsets.numel() < 1:
                raise ValueError("offsets must be a 1-D tensor of length N + 1")
            if int(self.offsets[-1]) != self.data.shape[0] or int(self.offsets[0]) != 0:
                raise ValueError("offsets must start at 0 and end at the number of token rows")

    @property
    def is_multi(self) -> bool:
        return self.offsets is not None

    @property
    def dim(self) -> int:
        return int(self.data.shape[1])

    def __len__(self) -> int:
        return int(self.data.shape[0]) if self.offsets is None else int(self.offsets.numel() - 1)

    def item(self, i: int) -> torch.Tensor:
        """Item ``i``: a [D] vector (dense) or a [tokens, D] matrix (multi-vector)."""
        if self.offsets is None:
            return self.data[i]
        return self.data[int(self.offsets[i]) : int(self.offsets[i + 1])]

    def lengths(self) -> torch.Tensor:
        if self.offsets is None:
            return torch.ones(len(self), dtype=torch.int64)
        return self.offsets[1:] - self.offsets[:-1]

    def select(self, indices: Sequence[int]) -> Embeddings:
        """A new Embeddings with the given items, in that order."""
        if self.offsets is None:
            return Embeddings(self.data[list(indices)])
        return Embeddings.from_list([self.item(i) for i in indices], dim=self.dim, dtype=self.data.dtype)

    @staticmethod
    def dense(vectors: torch.Tensor) -> Embeddings:
        return Embeddings(vectors)

    @staticmethod
    def from_list(
        items: Sequence[torch.Tensor], *, dim: int | None = None, dtype: torch.dtype | None = None
    ) -> Embeddings:
        """Ragged multi-vector embeddings from a list of [tokens_i, D] tensors."""
        if not items:
            if dim is None:
                raise ValueError("cannot build empty multi-vector embeddings without dim")
            return Embeddings(torch.empty(0, dim, dtype=dtype or torch.float32), torch.zeros(1, dtype=torch.int64))
        lengths = torch.tensor([int(t.shape[0]) for t in items], dtype=torch.int64)
        offsets = torch.zeros(len(items) + 1, dtype=torch.int64)
        offsets[1:] = torch.cumsum(lengths, 0)
        data = torch.cat([t.reshape(t.shape[0], t.shape[-1]) for t in items], 0)
        return Embeddings(data if dtype is None else data.to(dtype), offsets)

    @staticmethod
    def concat(parts: Sequence[Embeddings]) -> Embeddings:
        """Concatenate along items; all parts must be of the same kind and dimension."""
        if not parts:
            raise ValueError("nothing to concatenate")
        if any(p.is_multi != parts[0].is_multi for p in parts):
            raise ValueError("cannot concatenate dense and multi-vector embeddings")
        data = torch.cat([p.data for p in parts], 0)
        if not parts[0].is_multi:
            return Embeddings(data)
        offs = [torch.zeros(1, dtype=torch.int64)]
        base = 0
        for p in parts:
            assert p.offsets is not None
            offs.append(p.offsets[1:] + base)
            base += int(p.offsets[-1])
        return Embeddings(data, torch.cat(offs))

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> Embeddings:
        data = self.data.to(device=device, dtype=dtype) if dtype else self.data.to(device)
        return Embeddings(data, None if self.offsets is None else self.offsets.to(device))
