"""Every quantizer kind and every codec through the same checks (tests/common.py)."""

from __future__ import annotations

import pytest
from common import KIND_CASES, check_codec_contract, check_quantizer_contract

from vqimage._shared.kinds import KINDS
from vqimage.codecs import CODECS


def test_every_kind_has_a_contract_case():
    assert set(KIND_CASES) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_quantizer_contract(kind):
    q, data = KIND_CASES[kind]()
    assert q.kind == kind
    check_quantizer_contract(q, data)


@pytest.mark.parametrize("name", sorted(CODECS))
def test_codec_contract(name):
    check_codec_contract(CODECS[name])
