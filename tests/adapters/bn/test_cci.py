"""Cuenta DNI numbers name their holder: the bank mock finds an account from its CCI."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.bn.cci import account_for, cci_for, holder_of, is_valid_cci


@given(st.integers(min_value=0, max_value=10**8 - 1))
def test_the_account_number_gives_back_its_holder(n: int) -> None:
    dni = f"{n:08d}"
    assert holder_of(account_for(dni)) == dni
    assert is_valid_cci(cci_for("150101", account_for(dni)))


@given(st.from_regex(r"\A[0-9]{12}\Z"))
def test_a_number_no_holder_has_names_nobody(account: str) -> None:
    holder = holder_of(account)
    assert holder is None or account_for(holder) == account
