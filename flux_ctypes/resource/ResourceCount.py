"""The count of a jobspec resource (RFC 14, RFC 45), as a set of values.

A count is a fixed number (``4``), a range (``{"min": 2, "max": 8}``,
``"2-8"``), an open range (``{"min": 2}``, ``"2+"``), a stepped range
(``{"min": 2, "max": 16, "operator": "*", "operand": 2}``, ``"2-16:2:*"``)
or an explicit idset (``"1,7-9"``).  :meth:`ResourceCount.valid_counts`
lists the values a scheduler may grant, largest first.
"""

from typing import Any, Iterator, List, Optional

from flux_ctypes.idset import IDset

__all__ = ["ResourceCount"]

#: a stepped range expands to at most this many values
MAX_VALUES = 65536


def _at_least_one(value: int, what: str) -> int:
    if value < 1:
        raise ValueError("resource count: {} must be at least 1, got {}".format(what, value))
    return value


def _bounded(low: int, high: int) -> None:
    if high < low:
        raise ValueError("resource count: max {} is below min {}".format(high, low))


def _steps(low: int, high: int, operator: str, operand: int) -> IDset:
    """The values low, low op operand, ... up to high, as an IDset."""
    if operator == "+":
        if operand < 1:
            raise ValueError("resource count: '+' needs an operand of at least 1, "
                             "got {}".format(operand))
    elif operator in ("*", "^"):
        if operand < 2:
            raise ValueError("resource count: {!r} needs an operand of at least 2, "
                             "got {}".format(operator, operand))
        if operator == "^" and low < 2:
            raise ValueError("resource count: '^' needs min of at least 2, got {}".format(low))
    else:
        raise ValueError("resource count: unknown operator {!r} (+, * or ^)".format(operator))
    values = []  # type: List[int]
    value = low
    while value <= high:
        values.append(value)
        if len(values) > MAX_VALUES:
            raise ValueError("resource count: more than {} values from {} to {}".format(
                MAX_VALUES, low, high))
        if operator == "+":
            value += operand
        elif operator == "*":
            value *= operand
        else:
            value **= operand
    if not values:
        raise ValueError("resource count: no values from {} to {}".format(low, high))
    return IDset(values)


class ResourceCount:
    """The values a count allows: ``min`` to ``max`` (None: no upper
    bound), or only those in ``values`` (an IDset) when given."""

    __slots__ = ("min", "max", "_values")

    def __init__(self, mn: int, mx: Optional[int], values: Optional[IDset] = None) -> None:
        self.min = mn
        self.max = mx
        self._values = values

    @classmethod
    def _range(cls, low: int, high: Optional[int], operator: str = "+",
               operand: int = 1) -> "ResourceCount":
        _at_least_one(low, "min")
        if high is None:
            if (operator, operand) != ("+", 1):
                raise ValueError("resource count: an unbounded count can't step by "
                                 "{!r} {}".format(operator, operand))
            return cls(low, None)
        _bounded(low, high)
        if (operator, operand) == ("+", 1):
            return cls(low, high)
        return cls(low, high, _steps(low, high, operator, operand))

    @classmethod
    def from_count_spec(cls, v: Any, default: int = 1) -> "ResourceCount":
        """The count of a JSON-decoded jobspec ``count`` value: an int, an
        RFC 14 range object, or an RFC 45 string; any other value stands
        for ``default``.  ValueError for a count that allows no value, a
        min below 1, or an open range with a step."""
        if isinstance(v, int):
            _at_least_one(v, "count")
            return cls(v, v)
        if isinstance(v, dict):
            high = v.get("max")
            return cls._range(int(v.get("min", default)),
                              None if high is None else int(high),
                              v.get("operator", "+"), int(v.get("operand", 1)))
        if isinstance(v, str):
            return cls._from_text(v)
        return cls(default, default)

    @classmethod
    def _from_text(cls, text: str) -> "ResourceCount":
        body = text.strip()
        if body.startswith("[") and body.endswith("]"):
            body = body[1:-1]
        fields = body.split(":")
        bounds = fields[0]
        operand = int(fields[1]) if len(fields) > 1 else 1
        operator = fields[2] if len(fields) > 2 else "+"
        if bounds.endswith("+"):  # "2+", "2+:1:+"
            return cls._range(int(bounds[:-1]), None, operator, operand)
        if len(fields) > 1:  # "2-16:2:*"
            low, high = bounds.split("-")
            return cls._range(int(low), int(high), operator, operand)
        if "," in bounds:  # an idset: "1,7-9"
            values = IDset(bounds)
            _at_least_one(values.first(), "min")
            return cls(values.first(), values.last(), values)
        if "-" in bounds:
            low, high = bounds.split("-", 1)
            return cls._range(int(low), int(high))
        number = _at_least_one(int(bounds), "count")
        return cls(number, number)

    def scaled(self, factor: int) -> "ResourceCount":
        """Every value times ``factor`` (self when ``factor`` is 1)."""
        if factor == 1:
            return self
        high = None if self.max is None else self.max * factor
        values = None if self._values is None else IDset(v * factor for v in self._values)
        return ResourceCount(self.min * factor, high, values)

    def valid_counts(self, available: int) -> Iterator[int]:
        """The allowed values not above ``available``, largest first
        (nothing when ``available`` is below ``min``)."""
        cap = available if self.max is None else min(available, self.max)
        if cap < self.min:
            return
        if self._values is None:
            yield from range(cap, self.min - 1, -1)
            return
        for value in reversed(self._values.expand()):
            if self.min <= value <= cap:
                yield value

    def __repr__(self) -> str:
        if self._values is None:
            return "ResourceCount({}, {})".format(self.min, self.max)
        return "ResourceCount({}, {}, values={!r})".format(self.min, self.max, self._values)
