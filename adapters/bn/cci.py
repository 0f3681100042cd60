"""Cuenta DNI numbers and the 20-digit interbank code (CCI).

CCI = bank (3) + office (3) + account (12) + two check digits: the first over bank and
office, the second over the account, each computed with alternating weights 1 and 2
(products above 9 add their digits) as ``(10 - sum mod 10) mod 10``. Banco de la Nación's
bank code is 018.
"""

from __future__ import annotations

BANK_CODE = "018"
_ACCOUNT_SPACE = 10**11


def _check(digits: str) -> str:
    total = 0
    for position, char in enumerate(digits):
        product = int(char) * (1 if position % 2 == 0 else 2)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def account_for(dni: str) -> str:
    """The 12-digit Cuenta DNI number of a holder: a bijection that does not spell the DNI."""
    return "4" + f"{(int(dni) * 7919 + 104729) % _ACCOUNT_SPACE:011d}"


def cci_for(ubigeo: str, account: str) -> str:
    office = f"{int(ubigeo) % 1000:03d}"
    return f"{BANK_CODE}{office}{account}{_check(BANK_CODE + office)}{_check(account)}"


def is_valid_cci(cci: str) -> bool:
    if len(cci) != 20 or not cci.isdigit():
        return False
    return cci[18] == _check(cci[:6]) and cci[19] == _check(cci[6:18])
