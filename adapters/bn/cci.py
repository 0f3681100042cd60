"""Cuenta DNI numbers and the 20-digit interbank code (CCI).

CCI = bank (3) + office (3) + account (12) + two check digits: the first over bank and
office, the second over the account, each computed with alternating weights 1 and 2
(products above 9 add their digits) as ``(10 - sum mod 10) mod 10``
(:func:`gateway.identifiers.parse_cci` checks them). Banco de la Nación's
bank code is 018.
"""

from __future__ import annotations

from gateway.identifiers import cci_check_digit as _check
from gateway.identifiers import is_valid_cci

__all__ = ["BANK_CODE", "account_for", "cci_for", "holder_of", "is_valid_cci"]

BANK_CODE = "018"
_ACCOUNT_SPACE = 10**11
_INVERSE = pow(7919, -1, _ACCOUNT_SPACE)


def account_for(dni: str) -> str:
    """The 12-digit Cuenta DNI number of a holder: a bijection that does not spell the DNI."""
    return "4" + f"{(int(dni) * 7919 + 104729) % _ACCOUNT_SPACE:011d}"


def holder_of(account: str) -> str | None:
    """The DNI whose Cuenta DNI number is ``account`` (the inverse of :func:`account_for`),
    or None when no 8-digit DNI has that number."""
    if len(account) != 12 or account[0] != "4" or not account.isdigit():
        return None
    dni = (int(account[1:]) - 104729) * _INVERSE % _ACCOUNT_SPACE
    return f"{dni:08d}" if dni < 10**8 else None


def cci_for(ubigeo: str, account: str) -> str:
    office = f"{int(ubigeo) % 1000:03d}"
    return f"{BANK_CODE}{office}{account}{_check(BANK_CODE + office)}{_check(account)}"
