"""The ``--requires`` constraint language, turned into an RFC 31
constraint object.

Terms are ``op:value`` (``host:``/``hosts:`` become ``hostlist``,
``rank:`` becomes ``ranks``) or a bare property name (several may be
given comma-separated).  Terms side by side, or joined by ``&``, ``&&``
or ``and``, must all hold; ``|``, ``||`` or ``or`` gives alternatives
(binding looser); ``not`` or a leading ``-`` negates; parentheses group;
a value may be quoted.  Properties ANDed together are merged into one
list, as flux-core does.
"""

import re
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["ConstraintSyntaxError", "parse_requires"]

OPERATORS = {None: "properties", "host": "hostlist", "hosts": "hostlist", "rank": "ranks"}
SPLIT = {"properties": ","}
COMBINED = frozenset(("properties",))


class ConstraintSyntaxError(ValueError):
    """A --requires expression that cannot be parsed."""


_TOKEN_RE = re.compile(r"""
    (?P<space>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<or>\|\|?|or\b)
  | (?P<and>&&?|and\b)
  | (?P<not>not\b)
  | (?P<negate>-)
  | (?P<quoted>"[^"]*"|'[^']*')
  | (?P<word>[^()|&\s"']+)
""", re.VERBOSE)


def _tokens(text: str) -> List[Tuple[str, str, int]]:
    out = []  # type: List[Tuple[str, str, int]]
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise ConstraintSyntaxError("Unterminated quote at position {}".format(pos))
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "quoted":
            value = value[1:-1]
            # op:"quoted value" is one term
            if out and out[-1][0] == "word" and out[-1][1].endswith(":") \
                    and out[-1][2] + len(out[-1][1]) == pos:
                prev = out.pop()
                out.append(("word", prev[1] + value, prev[2]))
                pos = match.end()
                continue
            kind = "word"
        if kind != "space":
            out.append((kind, value, pos))
        pos = match.end()
    for kind, value, pos in out:
        if kind == "word" and value.endswith(":") and value.count(":") == 1:
            raise ConstraintSyntaxError("Missing argument to token '{}'".format(value))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> Optional[Tuple[str, str, int]]:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise ConstraintSyntaxError("Unexpected end of input in '{}'".format(self.text))
        self.index += 1
        return token

    def parse(self) -> Dict[str, Any]:
        result = self.alternatives()
        extra = self.peek()
        if extra is not None:
            raise ConstraintSyntaxError("Invalid token '{}' at position {}".format(
                extra[1], extra[2]))
        return result

    def alternatives(self) -> Dict[str, Any]:
        left = self.conjunction()
        while self.peek() is not None and self.peek()[0] == "or":  # type: ignore[index]
            self.take()
            right = self.conjunction()
            if "or" in left:
                left["or"].append(right)
            else:
                left = {"or": [left, right]}
        return left

    def conjunction(self) -> Dict[str, Any]:
        left = self.unary()
        while True:
            token = self.peek()
            if token is None or token[0] in ("or", "rparen"):
                return left
            if token[0] == "and":
                self.take()
            left = _combine(left, self.unary())

    def unary(self) -> Dict[str, Any]:
        kind, value, pos = self.take()
        if kind == "not":
            return {"not": [self.unary()]}
        if kind == "negate":
            nxt = self.take()
            if nxt[0] != "word":
                raise ConstraintSyntaxError("Invalid token '{}' at position {}".format(
                    nxt[1], nxt[2]))
            return {"not": [_term(nxt[1])]}
        if kind == "lparen":
            inner = self.alternatives()
            closing = self.peek()
            if closing is None or closing[0] != "rparen":
                raise ConstraintSyntaxError("Unclosed parenthesis in position {}".format(pos))
            self.take()
            return inner
        if kind == "word":
            return _term(value)
        raise ConstraintSyntaxError("Invalid token '{}' at position {}".format(value, pos))


def _term(word: str) -> Dict[str, Any]:
    op, colon, value = word.partition(":")
    if not colon:
        name = OPERATORS[None]
        value = word
    else:
        name = OPERATORS.get(op, op)
    bad = re.search(r"[^\w.+@-]", name)
    if bad:
        raise ConstraintSyntaxError("invalid character '{}' in operator '{}:'".format(
            bad.group(0), name))
    if name in SPLIT:
        return {name: value.split(SPLIT[name])}
    return {name: [value]}


def _combine(left: Dict[str, Any], right: Dict[str, Any]) -> Dict[str, Any]:
    entries = [left, right]
    if "and" in left:
        left["and"].append(right)
        entries = [left]
    merged = {}  # type: Dict[str, List[Any]]
    terms = []  # type: List[Dict[str, Any]]
    for entry in entries:
        key = next(iter(entry))
        if key not in COMBINED:
            terms.append(entry)
        elif key not in merged:
            merged[key] = entry[key]
            terms.append(entry)
        else:
            merged[key].extend(entry[key])
    return terms[0] if len(terms) == 1 else {"and": terms}


def parse_requires(text: str) -> Dict[str, Any]:
    """The RFC 31 constraint object for a --requires expression."""
    if not text.strip():
        raise ConstraintSyntaxError("Unexpected end of input in '{}'".format(text))
    return _Parser(text).parse()
