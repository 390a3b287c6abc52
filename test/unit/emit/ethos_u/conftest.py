"""Fixtures of the Ethos-U emitter tests."""

from __future__ import annotations

import pytest

from npuc.emit.ethos_u import mlw_encoder


@pytest.fixture
def velas_codec(monkeypatch):
    """Weights compressed by Vela's codec alone, never by npuc's own mlw encoder: for the tests that
    compare npuc's weight streams and registers with Vela's byte for byte (npuc's own, shorter streams
    are tested in test_mlw_encoder.py)."""
    monkeypatch.setattr(mlw_encoder, "encode_shorter", lambda stream, given: given)
