"""Lambda cost estimates exactly as Remotion computes them (docs/PROTOCOL.md section 13).

Example:
    >>> estimate_price(region="us-east-1", memory_mb=2048, disk_mb=10240,
    ...                lambdas_invoked=10, duration_ms=60_000)
    0.00162
    >>> format_accrued_cost(0.0123, "USD")
    '$0.012'
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from ..errors import InvalidOptionsError
from .constants import MAX_DISK_MB, MAX_MEMORY_MB, MIN_DISK_MB, MIN_MEMORY_MB, REGIONS
from .naming import partition_of


@dataclass(frozen=True)
class RegionPrices:
    """Lambda ARM prices of one region, in its partition's currency."""

    duration_per_gb_second: float
    storage_per_gb_second: float
    per_request: float


def _prices(duration: float, storage: float, request: float) -> RegionPrices:
    return RegionPrices(duration, storage, request)


_STANDARD = 0.0000133334
PRICES: Final[dict[str, RegionPrices]] = {
    "us-east-1": _prices(_STANDARD, 0.0000000309, 0.0000002),
    "us-east-2": _prices(_STANDARD, 0.0000000309, 0.0000002),
    "us-west-2": _prices(_STANDARD, 0.0000000309, 0.0000002),
    "us-west-1": _prices(_STANDARD, 0.0000000370, 0.0000002),
    "ap-northeast-1": _prices(_STANDARD, 0.0000000370, 0.0000002),
    "ap-northeast-3": _prices(_STANDARD, 0.0000000370, 0.0000002),
    "ap-southeast-1": _prices(_STANDARD, 0.0000000370, 0.0000002),
    "ap-southeast-2": _prices(_STANDARD, 0.0000000370, 0.0000002),
    "ap-southeast-4": _prices(_STANDARD, 0.0000000370, 0.0000002),
    "ap-south-1": _prices(_STANDARD, 0.0000000352, 0.0000002),
    "ap-northeast-2": _prices(_STANDARD, 0.0000000352, 0.0000002),
    "ca-central-1": _prices(_STANDARD, 0.0000000340, 0.0000002),
    "eu-west-1": _prices(_STANDARD, 0.0000000340, 0.0000002),
    "eu-central-1": _prices(_STANDARD, 0.0000000367, 0.0000002),
    "eu-west-2": _prices(_STANDARD, 0.0000000358, 0.0000002),
    "eu-west-3": _prices(_STANDARD, 0.0000000358, 0.0000002),
    "eu-north-1": _prices(_STANDARD, 0.0000000323, 0.0000002),
    "sa-east-1": _prices(_STANDARD, 0.0000000586, 0.0000002),
    "eu-central-2": _prices(0.0000146667, 0.0000000441, 0.00000022),
    "eu-south-1": _prices(0.0000156138, 0.0000000357, 0.00000023),
    "af-south-1": _prices(0.00001768, 0.0000000404, 0.00000027),
    "ap-east-1": _prices(0.0000183, 0.0000000407, 0.00000028),
    "ap-southeast-5": _prices(0.000012, 0.0000000333, 0.00000018),
    "cn-north-1": _prices(0.0000908, 0.0000002303, 0.00000136),
    "cn-northwest-1": _prices(0.0000908, 0.0000002049, 0.00000136),
}
assert set(PRICES) == set(REGIONS)

_SYMBOLS: Final = {"USD": "$", "CNY": "¥"}


def currency_of(region: str) -> str:
    """The billing currency of ``region`` (``USD``, or ``CNY`` in China)."""
    return partition_of(region).currency


def currency_symbol(currency: str) -> str:
    """The narrow symbol of a currency: ``$`` or ``¥``."""
    return _SYMBOLS.get(currency, currency)


def estimate_price(
    *,
    region: str,
    memory_mb: int,
    disk_mb: int,
    lambdas_invoked: int,
    duration_ms: float,
) -> float:
    """Estimate what Lambda charges for a render (Remotion's ``estimatePrice``).

    ``duration_ms`` is the summed billed duration of all invocations. Rounded to 5 decimals.
    Remotion itself always passes ``disk_mb=10240`` to this, whatever the real disk size.
    """
    problems: list[tuple[str, str]] = []
    if region not in PRICES:
        problems.append(("region", f"{region!r} is not a region Remotion Lambda supports"))
    if not MIN_MEMORY_MB <= memory_mb <= MAX_MEMORY_MB:
        problems.append(
            ("memory_mb", f"must be between {MIN_MEMORY_MB} and {MAX_MEMORY_MB}; got {memory_mb}")
        )
    if not MIN_DISK_MB <= disk_mb <= MAX_DISK_MB:
        problems.append(
            ("disk_mb", f"must be between {MIN_DISK_MB} and {MAX_DISK_MB}; got {disk_mb}")
        )
    if duration_ms < 0:
        problems.append(("duration_ms", f"must not be negative; got {duration_ms}"))
    if problems:
        raise InvalidOptionsError(problems)
    prices = PRICES[region]
    seconds_gb = duration_ms / 1000 / 1024
    time_cost = prices.duration_per_gb_second * memory_mb * seconds_gb
    disk_cost = max(0, disk_mb - 512) * prices.storage_per_gb_second * seconds_gb
    invocation_cost = prices.per_request * lambdas_invoked
    return round_half_up(time_cost + disk_cost + invocation_cost, 5)


def round_half_up(value: float, digits: int) -> float:
    """Round like JavaScript's ``Math.round(value * 10**digits) / 10**digits``."""
    factor = 10.0**digits
    return float(Decimal(value * factor).to_integral_value(rounding=ROUND_HALF_UP)) / factor


def to_precision(value: float, digits: int) -> float:
    """JavaScript's ``Number(value.toPrecision(digits))``."""
    if value == 0:
        return 0.0
    return float(format(value, f".{digits - 1}e"))


def _group_fixed(value: float, min_fraction: int, max_fraction: int) -> str:
    quantum = Decimal(1).scaleb(-max_fraction)
    fixed = Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)
    text = f"{fixed:,.{max_fraction}f}"
    if "." in text and max_fraction > min_fraction:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(min_fraction, "0")
        text = f"{whole}.{frac}" if frac else whole
    return text


def format_accrued_cost(accrued: float, currency: str) -> str:
    """The ``displayCost`` of a running render: ``<$0.001`` below a tenth of a cent, else
    three decimals with grouping (``$1,234.568``)."""
    symbol = currency_symbol(currency)
    if accrued < 0.001:
        return f"<{symbol}0.001"
    return f"{symbol}{_group_fixed(accrued, 3, 3)}"


def format_final_cost(cost: float, currency: str) -> str:
    """The ``estimatedDisplayCost`` the function writes at the end: up to three decimals,
    trailing zeros dropped (``$0`` for 0.00031, ``$0.012``)."""
    return f"{currency_symbol(currency)}{_group_fixed(cost, 0, 3)}"


def format_cost(cost: float, currency: str) -> str:
    """aioremotion's one display of a render's cost estimate, running or final.

    Remotion shows a running render's cost as ``<$0.001`` until it reaches a tenth of a
    cent (:func:`format_accrued_cost`) and the finished render's rounded to three decimals
    (:func:`format_final_cost`, so ``$0`` for 0.00031): a small render's figure jumps from
    one to the other and never says what it cost. The events a watch yields
    (``Progress`` and ``Done``) both use this instead: three decimals with grouping from a
    tenth of a cent up, as Remotion's running display, and two significant digits below.

    >>> format_cost(0.0123, "USD")
    '$0.012'
    >>> format_cost(1234.5678, "USD")
    '$1,234.568'
    >>> format_cost(0.00038, "USD")
    '$0.00038'
    >>> format_cost(0.00002, "USD")
    '$0.00002'
    >>> format_cost(0.000123456, "CNY")
    '¥0.00012'
    >>> format_cost(0, "USD")
    '$0'
    """
    symbol = currency_symbol(currency)
    if cost <= 0:
        return f"{symbol}0"
    if cost >= 0.001:
        return f"{symbol}{_group_fixed(cost, 3, 3)}"
    return f"{symbol}{Decimal(repr(to_precision(cost, 2))):f}"


def billing_duration_ms(
    timings: list[tuple[float, float]],
    *,
    lambdas_invoked: int,
    started_ms: float,
    now_ms: float,
) -> float:
    """Billed duration so far: finished chunks plus 100 ms each, plus the running chunks
    counted from the render's start (``timings`` holds ``(start, rendered)`` pairs)."""
    finished = sum(max(0.0, rendered - start) + 100 for start, rendered in timings)
    running = max(0, lambdas_invoked - len(timings)) * max(0.0, now_ms - started_ms)
    return finished + running
