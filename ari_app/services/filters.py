"""Directory filters: ``city = Praha and custom.segment in (A,B)``.

A small recursive-descent parser turns the text into a tree, and the tree into a SQLAlchemy
expression in which every value is a bound parameter: values never become SQL text, whatever
quotes or semicolons they contain.

Grammar::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expr ")" | comparison
    comparison := field ( ("=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") value
                        | ["not"] "in" "(" value ("," value)* ")"
                        | "like" value | "contains" value
                        | "is" ["not"] "null" )
    field      := name | email | phone | timezone | custom.<key> | <key>  (other names are custom keys;
                  a custom key matches exactly, else ignoring case)
    value      := 'quoted' | "quoted" | bare-word          (a doubled quote inside quotes is a quote)

Semantics: ``!=`` and ``not in`` also match contacts that have no such value (``is distinct from``);
``like`` is SQL LIKE (case-sensitive, ``%`` and ``_`` wildcards); ``contains`` is a case-insensitive
substring match with no wildcards; ``< <= > >=`` compare numerically when the value is a number
(custom values that are not numbers then never match) and as text otherwise; ``phone`` matches any
of the contact's numbers (in E.164).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Callable, Union

from sqlalchemy import Numeric, Text, and_, case, cast, exists, func, literal, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from ari_app.db.tables import CampaignEntry, Contact
from ari_app.errors import UserError

KEYWORDS = {"and", "or", "not", "in", "like", "contains", "is", "null"}
COMPARE_OPS = {"=", "!=", "<>", "<", "<=", ">", ">="}
TOP_FIELDS = {"name", "email", "phone", "timezone"}
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_NUMERIC_TEXT = r"^-?[0-9]+(\.[0-9]+)?$"


class FilterError(UserError):
    pass


@dataclass(frozen=True)
class Token:
    kind: str  # word, string, op, lparen, rparen, comma, end
    value: str
    pos: int  # 1-based column

    def describe(self) -> str:
        if self.kind == "end":
            return "the end of the filter"
        return f"{self.value!r}" if self.kind != "string" else f"the quoted value {self.value!r}"


def tokenize(src: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch.isspace():
            i += 1
            continue
        start = i + 1
        if ch in "(),":
            tokens.append(Token({"(": "lparen", ")": "rparen", ",": "comma"}[ch], ch, start))
            i += 1
        elif ch in "<>=!":
            two = src[i:i + 2]
            if two in ("<=", ">=", "!=", "<>"):
                tokens.append(Token("op", two, start))
                i += 2
            elif ch == "!":
                raise FilterError(f"filter: unexpected '!' at position {start} (did you mean '!='?)")
            else:
                tokens.append(Token("op", ch, start))
                i += 1
        elif ch in "'\"":
            quote, j, buf = ch, i + 1, []
            while True:
                if j >= n:
                    raise FilterError(f"filter: the quoted value starting at position {start} is not closed")
                if src[j] == quote:
                    if j + 1 < n and src[j + 1] == quote:
                        buf.append(quote)
                        j += 2
                        continue
                    break
                buf.append(src[j])
                j += 1
            tokens.append(Token("string", "".join(buf), start))
            i = j + 1
        else:
            j = i
            while j < n and not src[j].isspace() and src[j] not in "(),<>=!'\"":
                j += 1
            tokens.append(Token("word", src[i:j], start))
            i = j
    tokens.append(Token("end", "", n + 1))
    return tokens


# --- tree ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Compare:
    field: str  # name | email | phone | timezone | custom.<key>
    op: str  # = != < <= > >= in notin like contains isnull notnull
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class And:
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Or:
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Not:
    inner: "Node"


Node = Union[Compare, And, Or, Not]


class _Parser:
    def __init__(self, src: str):
        self.tokens = tokenize(src)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _kw(self, word: str) -> bool:
        return self.tok.kind == "word" and self.tok.value.lower() == word

    def _fail(self, expected: str):
        t = self.tok
        if t.kind == "end":
            raise FilterError(f"filter: the filter ends at position {t.pos} where {expected} was expected")
        raise FilterError(f"filter: unexpected {t.describe()} at position {t.pos} (expected {expected})")

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise FilterError("filter: the filter is empty (expected a condition such as city = Praha)")
        node = self.expr()
        if self.tok.kind != "end":
            self._fail("'and', 'or' or the end of the filter")
        return node

    def expr(self) -> Node:
        node = self.and_expr()
        while self._kw("or"):
            self.i += 1
            node = Or(node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self._kw("and"):
            self.i += 1
            node = And(node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        if self._kw("not"):
            self.i += 1
            return Not(self.not_expr())
        if self.tok.kind == "lparen":
            self.i += 1
            node = self.expr()
            if self.tok.kind != "rparen":
                self._fail("')'")
            self.i += 1
            return node
        return self.comparison()

    def field(self) -> str:
        t = self.tok
        if t.kind != "word" or t.value.lower() in KEYWORDS:
            self._fail("a field such as name, email, phone, timezone or custom.<key>")
        self.i += 1
        name = t.value
        if name.lower() in TOP_FIELDS:
            return name.lower()
        if name.lower().startswith("custom."):
            key = name[len("custom."):]
            if not key:
                raise FilterError(f"filter: 'custom.' at position {t.pos} needs a key, such as custom.segment")
            return "custom." + key
        return "custom." + name

    def value(self) -> str:
        t = self.tok
        if t.kind == "string" or (t.kind == "word" and t.value.lower() not in KEYWORDS):
            self.i += 1
            return t.value
        self._fail("a value")

    def comparison(self) -> Node:
        field = self.field()
        t = self.tok
        if t.kind == "op":
            self.i += 1
            op = "!=" if t.value == "<>" else t.value
            return Compare(field, op, (self.value(),))
        if self._kw("is"):
            self.i += 1
            negate = self._kw("not")
            if negate:
                self.i += 1
            if not self._kw("null"):
                self._fail("'null'")
            self.i += 1
            return Compare(field, "notnull" if negate else "isnull")
        negate = False
        if self._kw("not"):
            self.i += 1
            negate = True
            if not self._kw("in"):
                self._fail("'in' after 'not'")
        if self._kw("in"):
            self.i += 1
            if self.tok.kind != "lparen":
                self._fail("'(' after 'in'")
            self.i += 1
            values = [self.value()]
            while self.tok.kind == "comma":
                self.i += 1
                values.append(self.value())
            if self.tok.kind != "rparen":
                self._fail("',' or ')'")
            self.i += 1
            return Compare(field, "notin" if negate else "in", tuple(values))
        if self._kw("like") or self._kw("contains"):
            op = self.tok.value.lower()
            self.i += 1
            return Compare(field, op, (self.value(),))
        self._fail("an operator (= != < <= > >= in, not in, like, contains, is null, is not null)")


def parse_filter(src: str) -> Node:
    """The tree of a filter; FilterError (one sentence with the position) on a syntax error."""
    return _Parser(src).parse()


# --- SQL -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """How fields map onto columns: the directory (contacts) or a campaign's entries (joined to
    contacts)."""

    phone_compare: Callable[[Callable[[ColumnElement], ColumnElement]], ColumnElement]
    timezone: ColumnElement


def _any_contact_phone(pred: Callable[[ColumnElement], ColumnElement]) -> ColumnElement:
    """True when one of the contact's numbers satisfies ``pred``."""
    number = func.unnest(Contact.phones).table_valued("e164").render_derived("p")
    return exists(select(number.c.e164).where(pred(number.c.e164)).correlate(Contact))


CONTACTS = Target(phone_compare=_any_contact_phone, timezone=Contact.timezone)
ENTRIES = Target(phone_compare=lambda pred: pred(CampaignEntry.phone_e164), timezone=CampaignEntry.timezone)


def _number(value: str) -> Decimal | None:
    if not _NUMBER.fullmatch(value):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _predicate(op: str, values: tuple[str, ...]) -> Callable[[ColumnElement], ColumnElement]:
    def pred(col: ColumnElement) -> ColumnElement:
        if op == "=":
            return col == values[0]
        if op == "!=":
            return col.is_distinct_from(values[0])
        if op in ("<", "<=", ">", ">="):
            num = _number(values[0])
            left: ColumnElement = col
            right: object = values[0]
            if num is not None:
                left = case((col.regexp_match(_NUMERIC_TEXT), cast(col, Numeric)), else_=None)
                right = num
            return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
        if op == "in":
            return col.in_(values)
        if op == "notin":
            return or_(col.is_(None), col.not_in(values))
        if op == "like":
            return col.like(values[0])
        if op == "contains":
            return col.icontains(values[0], autoescape=True)
        if op == "isnull":
            return col.is_(None)
        if op == "notnull":
            return col.is_not(None)
        raise AssertionError(op)

    return pred


def to_sql(node: Node, target: Target = CONTACTS) -> ColumnElement[bool]:
    if isinstance(node, And):
        return and_(to_sql(node.left, target), to_sql(node.right, target))
    if isinstance(node, Or):
        return or_(to_sql(node.left, target), to_sql(node.right, target))
    if isinstance(node, Not):
        return not_(to_sql(node.inner, target))
    pred = _predicate(node.op, node.values)
    if node.field == "phone":
        if node.op == "isnull":
            return not_(target.phone_compare(lambda c: c.is_not(None)))
        if node.op in ("notin", "!="):  # no number of the contact is one of these
            positive = _predicate("in" if node.op == "notin" else "=", node.values)
            return not_(target.phone_compare(positive))
        return target.phone_compare(pred)
    if node.field == "name":
        return pred(Contact.name)
    if node.field == "email":
        return pred(Contact.email)
    if node.field == "timezone":
        return pred(target.timezone)
    return pred(custom_value(node.field[len("custom."):]))


def custom_value(key: str) -> ColumnElement:
    """The custom field ``key``; when no key is spelt exactly so, a key equal ignoring case (CSV
    headers say ``City``, admins type ``city``)."""
    kv = func.jsonb_each_text(Contact.custom).table_valued("key", "value").alias("kv")
    folded = (select(kv.c.value).where(func.lower(kv.c.key) == func.lower(literal(key, Text)))
              .order_by(kv.c.key).limit(1).scalar_subquery())
    return func.coalesce(Contact.custom[key].astext, folded)


def compile_filter(src: str, target: Target = CONTACTS) -> ColumnElement[bool]:
    return to_sql(parse_filter(src), target)


# --- saved filters ---------------------------------------------------------------------------------

async def resolve(session, expression: str) -> str:
    """``@name`` refers to a saved filter; anything else is the expression itself."""
    from sqlalchemy import text

    if expression.startswith("@"):
        row = (await session.execute(text("select expression from filters where name = :n"),
                                     {"n": expression[1:]})).first()
        if row is None:
            raise UserError(f"saved filter {expression[1:]!r} does not exist (see 'dialer filter list')")
        return row[0]
    return expression


async def save_filter(db, name: str, expression: str) -> dict:
    from sqlalchemy import text

    if not name.strip() or name.startswith("@"):
        raise UserError(f"filter name {name!r} must be non-empty and not start with @")
    parse_filter(expression)
    async with db.transaction() as s:
        replaced = (await s.execute(text("select 1 from filters where name = :n"), {"n": name})).first() is not None
        await s.execute(text(
            "insert into filters (name, expression) values (:n, :e) "
            "on conflict (name) do update set expression = excluded.expression"), {"n": name, "e": expression})
    return {"name": name, "expression": expression, "replaced": replaced}


async def list_filters(db) -> list[dict]:
    from sqlalchemy import text

    async with db.transaction() as s:
        rows = (await s.execute(text("select name, expression, created_at from filters order by name"))).mappings()
        return [dict(r) for r in rows]


async def delete_filter(db, name: str) -> None:
    from sqlalchemy import text

    async with db.transaction() as s:
        n = (await s.execute(text("delete from filters where name = :n"), {"n": name})).rowcount
    if n == 0:
        raise UserError(f"saved filter {name!r} does not exist")

