"""A deterministic synthetic population for the DU 095-2020 operation.

Household ``i`` is computed from ``(seed, i)`` on demand, so a look-up costs the same time
and memory whether the population holds ten thousand households or half a million, and
every mock derives the same person from the same identifier.

Identifiers come from a keyed permutation of the 8-digit space (a four-round Feistel
network on two 4-digit halves, keyed by the seed) applied to ``n = 4·i + role`` (mother,
father, child). Running the network backwards finds the household behind a DNI or CUI in
O(1) and stores nothing, and neighbouring households get unrelated numbers. What the HIS
look-ups read of a household already built (adherence, birth weight and length, facility)
is kept in 4 bytes a household, so that a child's services are not drawn again from the
whole household (:meth:`Population.health_records_of`). Districts own
contiguous index ranges (sized by their births), so everything about one district lives in
one range.

Every share a household is drawn with (births by district, JUNTOS membership, formal
payroll, deaths, Cuentas DNI already held, card pick-up, phone lines, compliance by item
and age) comes from ``calibration.toml`` (:mod:`adapters.sandbox.calibration`), where each
says which published figure it aims at; :meth:`Population.for_target` sizes a population
so that the decree's target is eligible in expectation.
"""

from __future__ import annotations

import bisect
import random
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, cached_property
from itertools import accumulate
from typing import NamedTuple

from stdnum.pe import cui as stdnum_cui

from adapters.sandbox.calibration import Calibration, load_calibration
from adapters.sandbox.districts import District
from gateway.identifiers import is_ascii_digits

ID_SPACE = 10**8
_HALF = 10**4
_ROUNDS = 4
CNV_SPACE = 10**9
ROLE_MOTHER, ROLE_FATHER, ROLE_CHILD = 0, 1, 2
ROLE_NAMES = {ROLE_MOTHER: "mother", ROLE_FATHER: "father", ROLE_CHILD: "child"}
# The bundled calibration's birth window (a population built with another calibration
# has its own: ``Population.births_from`` and ``births_to``).
BIRTHS_FROM = load_calibration().births.first_day
BIRTHS_TO = load_calibration().births.last_day

SURNAMES = (
    "QUISPE FLORES SANCHEZ RODRIGUEZ GARCIA HUAMAN MAMANI RAMOS CHAVEZ TORRES MENDOZA "
    "DIAZ ROJAS VASQUEZ CASTILLO CONDORI ESPINOZA GUTIERREZ LOPEZ PEREZ GONZALES RAMIREZ "
    "CRUZ MORALES VARGAS HUAMANI CCAMA TICONA APAZA CHOQUE YUPANQUI PUMA CAHUANA HUANCA "
    "VILCA INGA ALVAREZ SALAZAR CORDOVA PAREDES ROMERO HERRERA MEDINA AGUILAR CARDENAS "
    "SOTO LEON CAMPOS RIVERA PALOMINO ACOSTA CHUQUIMAMANI LLACSA AYALA CCORI HUILLCA"
).split()
FEMALE_NAMES = (
    "MARIA ROSA JUANA CARMEN LUZ ANA ROCIO YESENIA DELIA NANCY ELIZABETH GLADYS MERY "
    "SONIA FLOR MARLENI YOLANDA LIZ KAREN MILAGROS JESSICA SANDRA LUCIA ANGELA ROXANA "
    "NOEMI EDITH SOLEDAD FIORELLA ZULEMA BETTY MARIBEL GRACIELA FANNY IRMA VILMA"
).split()
MALE_NAMES = (
    "JUAN JOSE LUIS CARLOS JORGE PEDRO MIGUEL VICTOR CESAR FREDY WILBER EDWIN RAUL "
    "JULIO HUGO ALEX HENRY ELVIS ROGER NESTOR WALTER ABEL DAVID SANTIAGO ANGEL MARCO "
    "RUBEN ROLANDO JHON DIEGO THIAGO MATEO LIAM GAEL DYLAN"
).split()
STREETS = ("JR.", "AV.", "CALLE", "PSJE.", "CASERIO", "COMUNIDAD")
OPERATORS = (("MOVISTAR", 40), ("CLARO", 30), ("ENTEL", 18), ("BITEL", 12))
MODALITIES = (("PREPAGO", 75), ("CONTROL", 15), ("POSPAGO", 10))
EDUCATION = (("PRIMARIA", 35), ("SECUNDARIA", 45), ("SUPERIOR", 12), ("SIN NIVEL", 8))
LANGUAGES = (("CASTELLANO", 62), ("QUECHUA", 30), ("AYMARA", 5), ("ASHANINKA", 2), ("AWAJUN", 1))
INSURANCE = (("SIS", 86), ("ESSALUD", 9), ("NINGUNO", 5))
MARITAL = (("SOLTERO", 68), ("CASADO", 27), ("DIVORCIADO", 3), ("VIUDO", 2))


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


def _coprime_multiplier(h: int, space: int) -> int:
    a = (h % (space - 3)) + 3
    while a % 2 == 0 or a % 5 == 0:
        a += 1
    return a


@cache
def _cumulative(table: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int], float]:
    cumulative = list(accumulate(w for _, w in table))
    return [v for v, _ in table], cumulative, float(cumulative[-1])


def _weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    """A value of ``table`` drawn by weight: the draw of ``rng.choices(values,
    cum_weights=...)[0]`` (one ``random()``, bisected), without its per-call checks."""
    values, cumulative, total = _cumulative(table)
    return values[bisect.bisect_right(cumulative, rng.random() * total, 0, len(values) - 1)]


def check_digit(number: str) -> str:
    """The numeric check character of a DNI or CUI (python-stdnum)."""
    return stdnum_cui.calc_check_digits(number)[0]


@dataclass(frozen=True)
class Person:
    dni: str
    check_digit: str
    first_surname: str
    second_surname: str
    given_names: str
    sex: str
    birth_date: date
    marital_status: str
    deceased: bool
    education: str
    language: str

    @property
    def restriction(self) -> str:
        return "FALLECIMIENTO" if self.deceased else ""

    @property
    def full_name(self) -> str:
        return f"{self.given_names} {self.first_surname} {self.second_surname}"


@dataclass(frozen=True)
class Child:
    cui: str
    check_digit: str
    cnv: str
    first_surname: str
    second_surname: str
    given_names: str
    sex: str
    birth_date: date
    birth_weight_g: int
    length_cm: float
    gestation_weeks: int
    health_facility: str
    insurance: str
    deceased: bool

    @property
    def restriction(self) -> str:
        return "FALLECIMIENTO" if self.deceased else ""


@dataclass(frozen=True)
class PhoneLine:
    number: str
    operator: str
    modality: str
    activated_on: date


class HealthRecord(NamedTuple):
    """One HIS row: one service item of one visit. A named tuple rather than a frozen
    dataclass: every history asked of the mock builds one per row, and a tuple is built
    in a third of the time."""

    appointment_id: str
    service_date: date
    facility: str
    patient_id: str
    age_value: int
    age_unit: str  # D days, M months, A years
    item_code: str
    diagnosis_type: str  # P presumptive, D definitive, R repeat
    lab_value: str
    weight_kg: float | None
    height_cm: float | None
    hemoglobin: float | None


@dataclass(frozen=True)
class Household:
    index: int
    district: District
    address: str
    populated_centre: str
    mother: Person
    father: Person | None
    child: Child
    in_juntos: bool
    formal_payroll: bool
    adherent: bool  # keeps up with the health services (calibration: compliance.keeps_up)
    phone_lines: tuple[PhoneLine, ...]
    holds_cuenta_dni: bool = False  # the mother held a Cuenta DNI before the operation
    card_pickup: bool = False  # she collects the debit card of a newly opened account

    def person(self, role: int) -> Person | Child | None:
        if role == ROLE_MOTHER:
            return self.mother
        if role == ROLE_FATHER:
            return self.father
        return self.child


@dataclass(frozen=True)
class Lookup:
    household: Household
    role: int


# Item schedule: (code, lab value, due age in days). Iron drops from 4 months, then syrup
# or micronutrients 6-11 months (the sixth delivery closes the course: TA).
_SCHEDULE: tuple[tuple[str, str, int], ...] = (
    ("99381.01", "", 7),
    ("99381", "1", 30),
    ("90681", "1", 61),
    ("90670", "1", 61),
    ("99381", "2", 61),
    ("90681", "2", 122),
    ("90670", "2", 122),
    ("99381", "3", 122),
    ("99199.17", "1", 122),
    ("99199.17", "2", 152),
    ("85018", "", 183),
    ("99199.17", "1", 183),
    ("99381", "4", 183),
    ("99199.17", "2", 213),
    ("99199.17", "3", 244),
    ("99199.17", "4", 274),
    ("99381", "5", 274),
    ("99199.17", "5", 305),
    ("99199.17", "TA", 335),
    ("90670", "3", 365),
    ("99382", "1", 365),
    ("99382", "2", 548),
)
# The latest a service can be given after birth: the last due age and the longest delay.
SERVICE_HORIZON_DAYS = max(due for *_, due in _SCHEDULE) + 25


_VACCINES = ("90681", "90670")
_IRON = "99199.17"
# Haemoglobin at the screening (g/dL), drawn uniformly for every item so that each
# item's draws are the same whatever the others are.
_HB_LOW, _HB_HIGH = 9.2, 13.4
# What health_records reads of a household, kept per index once its household was
# built (:meth:`Population.health_records_of`): bits of one unsigned 32-bit word.
_KNOWN, _ADHERENT = 1, 2
_FACILITY_SHIFT, _LENGTH_SHIFT, _WEIGHT_SHIFT = 2, 5, 15


def _facility(district: District, seq: int) -> str:
    """The child's health facility: the district's last four INEI digits and a number."""
    return f"{int(district.inei_code) % 10000:04d}{seq:04d}"


def _births(district: District, calibration: Calibration) -> float:
    """Expected births of a district: inhabitants times the crude birth rate."""
    births = calibration.births
    inhabitants = district.inhabitants or births.inhabitants_if_unknown
    return inhabitants * births.rate(district.poverty_pct)


def _weights(districts: Sequence[District], calibration: Calibration) -> list[float]:
    """Household weights by district: births, with the ineligible districts (below the
    threshold, or of unknown poverty) scaled to ``births.outside_share`` of the total."""
    births = [_births(d, calibration) for d in districts]
    inside = sum(b for b, d in zip(births, districts, strict=True) if d.eligible)
    outside = sum(births) - inside
    share = calibration.births.outside_share
    if not inside or not outside or not share:
        return births if inside else [b or 1.0 for b in births]
    scale = share / (1 - share) * inside / outside
    return [b if d.eligible else b * scale for b, d in zip(births, districts, strict=True)]


def _months(born: date, on: date) -> int:
    return (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)


class Population:
    """Households ``0 .. size-1`` of one seed, computed on demand."""

    def __init__(
        self,
        districts: Sequence[District],
        *,
        seed: int = 2020,
        size: int = 10_000,
        compliance_rate: float | None = None,
        as_of: date = date(2021, 3, 1),
        calibration: Calibration | None = None,
    ) -> None:
        """``compliance_rate`` overrides the calibration's ``compliance.keeps_up``."""
        calibration = calibration or load_calibration()
        if size < 1 or size > ID_SPACE // 4:
            raise ValueError(f"size must be between 1 and {ID_SPACE // 4}")
        if compliance_rate is not None and not 0.0 <= compliance_rate <= 1.0:
            raise ValueError("compliance_rate must be between 0 and 1")
        # Households live in districts with an INEI code: the Padrón names them by it.
        districts = [d for d in districts if d.inei is not None]
        if not districts:
            raise ValueError("at least one district with an INEI code is needed")
        self.seed = seed
        self.size = size
        self.calibration = calibration
        self.births_from = calibration.births.first_day
        self.births_to = calibration.births.last_day
        self._birth_days = calibration.births.days
        self.compliance_rate = compliance_rate
        self.as_of = as_of
        self.districts = tuple(districts)
        h = _splitmix64(seed)
        self._keys = [_splitmix64(h + r) for r in range(_ROUNDS)]
        self._b = _splitmix64(h) % ID_SPACE
        self._cnv_a = _coprime_multiplier(_splitmix64(h ^ 0xC1), CNV_SPACE)
        # Districts weigh by their births; the ineligible ones (below 15% poverty or
        # unknown) hold ``births.outside_share`` of the households.
        weights = _weights(districts, calibration)
        total = sum(weights)
        self._bounds = [round(size * c / total) for c in accumulate(weights)]
        self._by_inei = {d.inei: k for k, d in enumerate(districts)}
        self._by_reniec = {d.reniec: k for k, d in enumerate(districts) if d.reniec is not None}
        compliance = calibration.compliance
        # Per schedule item, the share given: to a household keeping up, to one that lapsed.
        self._give_rates = {
            True: tuple(compliance.keeps_up_item for _ in _SCHEDULE),
            False: tuple(
                compliance.lapsed_vaccine
                if code in _VACCINES
                else compliance.lapsed_iron
                if code == _IRON
                else compliance.lapsed_other
                for code, _, _ in _SCHEDULE
            ),
        }
        self._child_facts: array[int] | None = None

    # ------------------------------------------------------------------ identifiers

    def _round(self, value: int, round_no: int) -> int:
        return _splitmix64(self._keys[round_no] ^ value) % _HALF

    def _permute(self, n: int) -> int:
        left, right = divmod(n, _HALF)
        for r in range(_ROUNDS):
            left, right = right, (left + self._round(right, r)) % _HALF
        return left * _HALF + right

    def _unpermute(self, number: int) -> int:
        left, right = divmod(number, _HALF)
        for r in reversed(range(_ROUNDS)):
            left, right = (right - self._round(left, r)) % _HALF, left
        return left * _HALF + right

    def identifier(self, index: int, role: int) -> str:
        return f"{self._permute(4 * index + role):08d}"

    def locate(self, number: str) -> tuple[int, int] | None:
        """(household index, role) behind an 8-digit DNI or CUI, or None."""
        if not is_ascii_digits(number, 8):
            return None
        n = self._unpermute(int(number))
        index, role = divmod(n, 4)
        if index >= self.size or role not in ROLE_NAMES:
            return None
        return index, role

    def child_index(self, number: str) -> int | None:
        """The household index of a child's CUI; None for a parent's DNI or an unknown
        number (what HIS answers by CUI, without building the household)."""
        located = self.locate(number)
        return located[0] if located is not None and located[1] == ROLE_CHILD else None

    def lookup(self, number: str) -> Lookup | None:
        located = self.locate(number)
        if located is None:
            return None
        household = self.household(located[0])
        if located[1] == ROLE_FATHER and household.father is None:
            return None
        return Lookup(household, located[1])

    # ------------------------------------------------------------------ districts

    def district_index(self, index: int) -> int:
        return bisect.bisect_right(self._bounds, index)

    def district_range(self, ubigeo: str) -> range:
        """Household indices of a district, by INEI or RENIEC code."""
        k = self._by_inei.get(ubigeo, self._by_reniec.get(ubigeo))
        if k is None:
            return range(0)
        start = self._bounds[k - 1] if k else 0
        return range(start, self._bounds[k])

    def birth_date(self, index: int) -> date:
        """The child's birth date, cheap enough to scan the whole population with."""
        offset = _splitmix64(self.seed * 1_000_003 + index) % self._birth_days
        return self.births_from + timedelta(days=offset)

    # ------------------------------------------------------------------ households

    def household(self, index: int) -> Household:
        if not 0 <= index < self.size:
            raise IndexError(index)
        rng = random.Random(self.seed * 2_000_003 + index)
        shares = self.calibration.household
        district = self.districts[self.district_index(index)]
        family = rng.choice(SURNAMES)
        mother_second = rng.choice(SURNAMES)
        has_father = rng.random() < shares.father_present
        father_family = rng.choice(SURNAMES) if has_father else family
        child_birth = self.birth_date(index)
        mother_birth = child_birth - timedelta(days=rng.randint(16 * 365, 44 * 365))
        mother = self._person(
            index, ROLE_MOTHER, rng, "F", family, mother_second, mother_birth,
            shares.mother_deceased,
        )  # fmt: skip
        father = None
        if has_father:
            father_birth = mother_birth - timedelta(days=rng.randint(-3 * 365, 12 * 365))
            father = self._person(
                index, ROLE_FATHER, rng, "M", father_family, rng.choice(SURNAMES), father_birth,
                shares.father_deceased,
            )  # fmt: skip
        sex = rng.choice("FM")
        names = FEMALE_NAMES if sex == "F" else MALE_NAMES
        given = (
            rng.choice(names) if rng.random() < 0.6 else f"{rng.choice(names)} {rng.choice(names)}"
        )
        low_weight = rng.random() < 0.07
        weeks = rng.randint(33, 36) if low_weight else rng.randint(37, 41)
        facility_seq = rng.randint(1, 6)
        cui = self.identifier(index, ROLE_CHILD)
        child = Child(
            cui=cui,
            check_digit=check_digit(cui),
            cnv=f"{(self._cnv_a * index + self._b) % CNV_SPACE + CNV_SPACE:010d}",
            first_surname=father_family if has_father else family,
            second_surname=family if has_father else mother_second,
            given_names=given,
            sex=sex,
            birth_date=child_birth,
            birth_weight_g=rng.randint(1700, 2490) if low_weight else rng.randint(2500, 4200),
            length_cm=round(rng.uniform(44.0, 54.0), 1),
            gestation_weeks=weeks,
            health_facility=_facility(district, facility_seq),
            insurance=_weighted(rng, INSURANCE),
            deceased=rng.random() < shares.child_deceased,
        )
        street = rng.choice(STREETS)
        address = (
            f"{street} {rng.choice(SURNAMES)} S/N"
            if street in ("CASERIO", "COMUNIDAD")
            else f"{street} {rng.choice(SURNAMES)} {rng.randint(1, 1999)}"
        )
        lines = tuple(
            PhoneLine(
                number=f"9{rng.randint(0, 99_999_999):08d}",
                operator=_weighted(rng, OPERATORS),
                modality=_weighted(rng, MODALITIES),
                activated_on=date(2012, 1, 1) + timedelta(days=rng.randint(0, 3200)),
            )
            for _ in range(
                rng.choices((0, 1, 2, 3), weights=self.calibration.phone.lines_weights)[0]
            )
        )
        bank = self.calibration.bank
        household = Household(
            index=index,
            district=district,
            address=f"{address} - {district.name}",
            populated_centre=f"{district.inei}{rng.randint(1, 120):04d}",
            mother=mother,
            father=father,
            child=child,
            in_juntos=rng.random() < shares.in_juntos,
            formal_payroll=rng.random() < shares.formal_payroll,
            adherent=rng.random() < self.keeps_up(child_birth),
            phone_lines=lines,
            holds_cuenta_dni=rng.random() < bank.holds_cuenta_dni,
            card_pickup=rng.random() < bank.card_pickup,
        )
        self._remember(household, facility_seq)
        return household

    def _remember(self, household: Household, facility_seq: int) -> None:
        """Keep what :meth:`health_records_of` needs of a household (4 bytes)."""
        if self._child_facts is None:
            self._child_facts = array("I", bytes(4 * self.size))
        child = household.child
        self._child_facts[household.index] = (
            _KNOWN
            | (_ADHERENT if household.adherent else 0)
            | facility_seq << _FACILITY_SHIFT
            | round(child.length_cm * 10) << _LENGTH_SHIFT
            | child.birth_weight_g << _WEIGHT_SHIFT
        )

    def _person(
        self,
        index: int,
        role: int,
        rng: random.Random,
        sex: str,
        first: str,
        second: str,
        birth: date,
        deceased_share: float,
    ) -> Person:
        names = FEMALE_NAMES if sex == "F" else MALE_NAMES
        number = self.identifier(index, role)
        given = (
            rng.choice(names) if rng.random() < 0.5 else f"{rng.choice(names)} {rng.choice(names)}"
        )
        return Person(
            dni=number,
            check_digit=check_digit(number),
            first_surname=first,
            second_surname=second,
            given_names=given,
            sex=sex,
            birth_date=birth,
            marital_status=_weighted(rng, MARITAL),
            deceased=rng.random() < deceased_share,
            education=_weighted(rng, EDUCATION),
            language=_weighted(rng, LANGUAGES),
        )

    def health_records(self, household: Household) -> list[HealthRecord]:
        """HIS rows of the child up to ``as_of``, consistent with its age and adherence."""
        child = household.child
        return self._services(
            household.index,
            child.cui,
            child.birth_date,
            child.birth_weight_g,
            child.length_cm,
            child.health_facility,
            household.adherent,
        )

    def health_records_of(self, index: int) -> list[HealthRecord]:
        """:meth:`health_records` of household ``index``, without building the household
        again when this population built it before (a HIS look-up after the RENIEC
        extract read it): the same rows either way. IndexError out of range."""
        if not 0 <= index < self.size:
            raise IndexError(index)
        facts = self._child_facts[index] if self._child_facts is not None else 0
        if not facts & _KNOWN:
            return self.health_records(self.household(index))
        district = self.districts[self.district_index(index)]
        facility_seq = facts >> _FACILITY_SHIFT & 0b111
        return self._services(
            index,
            self.identifier(index, ROLE_CHILD),
            self.birth_date(index),
            facts >> _WEIGHT_SHIFT,
            (facts >> _LENGTH_SHIFT & 0x3FF) / 10,
            _facility(district, facility_seq),
            bool(facts & _ADHERENT),
        )

    def _services(
        self,
        index: int,
        cui: str,
        born: date,
        birth_weight_g: int,
        length_cm: float,
        facility: str,
        adherent: bool,
    ) -> list[HealthRecord]:
        # Three draws per schedule item, given or not (random, randrange, random): a
        # child's services depend on its own seed only.
        rng = random.Random(self.seed * 3_000_017 + index)
        draw, below = rng.random, rng.randrange
        delays = self.calibration.compliance.delay_max_days + 1
        rates = self._give_rates[adherent]
        as_of = self.as_of
        records: list[HealthRecord] = []
        for seq, (code, lab, due_days) in enumerate(_SCHEDULE):
            given = draw() < rates[seq]
            delay = below(delays)
            hb_draw = draw()
            if not given:
                continue
            served = born + timedelta(days=due_days + delay)  # see SERVICE_HORIZON_DAYS
            if served > as_of:
                break
            age_days = (served - born).days
            unit, value = ("D", age_days) if age_days < 30 else ("M", age_days // 30)
            if age_days >= 365:
                unit, value = "A", age_days // 365
            weight_kg = height_cm = hemoglobin = None
            if code.startswith(("99381", "99382")):  # CRED: the child weighed and measured
                months = age_days / 30.4
                weight = birth_weight_g / 1000 + 0.6 * min(months, 6)
                height = length_cm + 3.0 * min(months, 4) + 1.2 * max(months - 4, 0)
                weight_kg = round(weight + 0.25 * max(months - 6, 0), 2)
                height_cm = round(height, 1)
            elif code == "85018":
                hemoglobin = round(_HB_LOW + (_HB_HIGH - _HB_LOW) * hb_draw, 1)
            # One visit's row: appointment, date, facility, patient, age (value, unit).
            visit = (f"{index:09d}{seq:03d}", served, facility, cui, value, unit)
            records.append(HealthRecord(*visit, code, "D", lab, weight_kg, height_cm, hemoglobin))
            if hemoglobin is not None and hemoglobin < 11.0:
                # Anaemia found at the screening: a diagnosis row of the same visit.
                severity = "LEV" if hemoglobin >= 10.0 else "MOD"
                records.append(HealthRecord(*visit, "D509", "D", severity, None, None, None))
        return records

    def may_have_services(self, index: int, start: date, end: date) -> bool:
        """Whether the child of household ``index`` can have a HIS row dated in
        ``start .. end``; from the birth date alone, so a scan skips the rest cheaply."""
        if start > self.as_of:
            return False
        born = self.birth_date(index)
        return born <= end and born + timedelta(days=SERVICE_HORIZON_DAYS) >= start

    # ------------------------------------------------------------------ scans

    def newborns(
        self,
        born_from: date,
        born_to: date,
        ubigeos: Sequence[str] = (),
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[int]:
        """Indices of households whose child was born in the range, from ``start`` on
        (and before ``stop``)."""
        ranges = (
            sorted((self.district_range(u) for u in ubigeos), key=lambda r: r.start)
            if ubigeos
            else [range(self.size)]
        )
        for r in ranges:
            for index in range(
                max(r.start, start), min(r.stop, self.size if stop is None else stop)
            ):
                if born_from <= self.birth_date(index) <= born_to:
                    yield index

    def keeps_up(self, born: date) -> float:
        """Probability that the household of a child born on ``born`` keeps up with the
        health services: ``compliance_rate`` if given, else the calibration's share for
        the child's age on ``as_of``."""
        if self.compliance_rate is not None:
            return self.compliance_rate
        age = (self.as_of - born).days
        for below, share in self.calibration.compliance.keeps_up_by_age:
            if age < below:
                return share
        return self.calibration.compliance.keeps_up_by_age[-1][1]

    @cached_property
    def eligible_share(self) -> float:
        """Share of households living in eligible districts (exact, from the ranges)."""
        eligible = sum(len(self.district_range(d.inei_code)) for d in self.districts if d.eligible)
        return eligible / self.size

    @classmethod
    def for_target(
        cls,
        districts: Sequence[District],
        *,
        seed: int = 2020,
        as_of: date = date(2021, 3, 1),
        eligible: int | None = None,
        calibration: Calibration | None = None,
    ) -> Population:
        """The population whose expected number of DU 095-2020-eligible households is
        ``eligible`` (the calibration's ``target.eligible_households`` by default): the
        target plus the ineligible households drawn on top of it."""
        calibration = calibration or load_calibration()
        wanted = calibration.target.eligible_households if eligible is None else eligible
        probe = cls(districts, seed=seed, size=1_000_000, as_of=as_of, calibration=calibration)
        size = max(1, round(wanted / probe.expected_eligible_share()))
        return cls(districts, seed=seed, size=size, as_of=as_of, calibration=calibration)

    def expected_eligible_share(self) -> float:
        """Probability that a household passes the decree's rules as the programme
        applies them on ``as_of``: an eligible district, a child under 24 months born
        before ``as_of`` and alive, not in JUNTOS, no formal payroll."""
        weights = _weights(self.districts, self.calibration)
        inside = sum(w for w, d in zip(weights, self.districts, strict=True) if d.eligible)
        window_from = date(self.as_of.year - 2, self.as_of.month, 1)
        days = (self.births_from + timedelta(days=k) for k in range(self._birth_days))
        young = sum(
            1 for day in days if window_from <= day < self.as_of and _months(day, self.as_of) < 24
        )
        shares = self.calibration.household
        return (
            inside
            / sum(weights)
            * young
            / self._birth_days
            * (1 - shares.child_deceased)
            * (1 - shares.in_juntos)
            * (1 - shares.formal_payroll)
        )
