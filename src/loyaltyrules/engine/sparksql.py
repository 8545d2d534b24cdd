"""The batch evaluator's DuckDB SQL as Spark SQL: SQLGlot transpiles, a few rewrites finish.

The engine's statements are written once, in DuckDB's dialect (history.py,
contexts.py, triggers.py, compile.py ...). SQLGlot translates most of them as they are;
what it cannot know from syntax alone is rewritten here on the tree, before Spark SQL
is generated, so there is no second evaluator to keep in step:

* the tier-ladder macros (DuckDB `CREATE MACRO`, which Spark lacks) are inlined at
  every call, their parameters replaced by the call's arguments;
* `ASOF LEFT JOIN r ON r.k = l.k AND l.t >= r.t` becomes a LEFT JOIN on r's rows that
  are in force at l.t: r.t <= l.t < the next r.t of the same key (each (k, t) is one
  row in every relation the engine ASOF-joins: the last receipt of a day or instant);
* a column projected twice under one name (DuckDB folds quoted names' case, and
  tolerates the repeat) is projected once;
* named windows are spelt out at every use (Spark takes no frame after a window
  name), lead/lag without a frame (Spark refuses one there);
* `generate_series(...)`/`range(...)` in FROM become a subquery exploding a SEQUENCE,
  with the column named as DuckDB names it;
* a cast around `unnest` moves inside (Spark allows no generator within an expression);
* `strlen` (bytes) becomes `octet_length`, HUGEINT becomes DECIMAL(38, 0), and
  `$name` parameters become literals;
* `WITH x AS MATERIALIZED` drops the hint (Spark plans shared subqueries itself).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

ASOF_NEXT = "lr_asof_next"
WIDE_INT = exp.DataType.build("DECIMAL(38, 0)")


@dataclass(frozen=True)
class Macro:
    params: tuple[str, ...]
    body: exp.Expr


@dataclass
class Translator:
    """DuckDB statements of the engine to Spark SQL; remembers the macros defined."""

    macros: dict[str, Macro] = field(default_factory=dict)

    def define(self, create: exp.Create) -> None:
        """Record a `CREATE MACRO name(params) AS body` for inlining."""
        head = create.this
        name = head.this.name.lower()
        self.macros[name] = Macro(tuple(p.name for p in head.expressions), create.expression)

    def tree(self, statement: exp.Expr, values: Mapping[str, object] | None = None
             ) -> exp.Expr:
        """The statement rewritten for Spark (a copy; the argument is left as it was)."""
        tree = statement.copy()
        tree = _with_values(tree, values or {})
        tree = self._inline(tree)
        for rewrite in REWRITES:
            tree = rewrite(tree)
        return tree

    def sql(self, statement: exp.Expr | str, values: Mapping[str, object] | None = None
            ) -> str:
        if isinstance(statement, str):
            statement = sqlglot.parse_one(statement, dialect="duckdb")
        return self.tree(statement, values).sql("spark")

    def _inline(self, tree: exp.Expr) -> exp.Expr:
        if not self.macros:
            return tree

        def expand(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Anonymous) and node.name.lower() in self.macros:
                macro = self.macros[node.name.lower()]
                args = {p: self._inline(a) for p, a in zip(macro.params, node.expressions,
                                                           strict=True)}
                return exp.Paren(this=_substitute(macro.body.copy(), args))
            return node

        return tree.transform(expand, copy=False)


def _substitute(body: exp.Expr, args: Mapping[str, exp.Expr]) -> exp.Expr:
    def put(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name in args:
            return exp.Paren(this=args[node.name].copy())
        return node

    return body.transform(put, copy=False)


def _literal(value: object) -> exp.Expr:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, bool) or value is None:
        return exp.convert(value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _with_values(tree: exp.Expr, values: Mapping[str, object]) -> exp.Expr:
    """`$name` (parsed as a placeholder) replaced by its value as a literal."""
    for node in list(tree.find_all(exp.Placeholder, exp.Parameter)):
        name = node.name
        if name in values:
            node.replace(_literal(values[name]))
    return tree


def _asof_joins(tree: exp.Expr) -> exp.Expr:
    for join in list(tree.find_all(exp.Join)):
        if (join.args.get("method") or "").upper() == "ASOF":
            _asof_to_range(join)
    return tree


def _asof_to_range(join: exp.Join) -> None:
    """ASOF LEFT JOIN r ON r.k = l.k AND l.t >= r.t -> LEFT JOIN the rows in force."""
    right = join.this
    alias = right.alias_or_name
    keys, moment = [], None
    for test in join.args["on"].flatten() if isinstance(join.args["on"], exp.And) else [
            join.args["on"]]:
        if isinstance(test, exp.EQ):
            keys.append(test)
        elif isinstance(test, exp.GTE):
            moment = test
        else:
            raise ValueError(f"ASOF condition not of the engine's form: {test.sql('duckdb')}")
    if moment is None or moment.expression.table != alias:
        raise ValueError(f"ASOF join not of the form l.t >= {alias}.t")
    mine = moment.expression  # r.t
    own_keys = [k.this if k.this.table == alias else k.expression for k in keys]
    window = exp.Window(
        this=exp.Lead(this=exp.column(mine.name)),
        partition_by=[exp.column(k.name) for k in own_keys],
        order=exp.Order(expressions=[exp.Ordered(this=exp.column(mine.name))]),
    )
    source = right.copy()
    source.set("alias", None)
    bounded = exp.select("*", exp.alias_(window, ASOF_NEXT)).from_(source).subquery(alias)
    upper = exp.or_(
        exp.column(ASOF_NEXT, alias).is_(exp.null()),
        exp.LT(this=moment.this.copy(), expression=exp.column(ASOF_NEXT, alias)),
    )
    join.set("this", bounded)
    join.set("method", None)
    join.set("on", exp.and_(join.args["on"], exp.Paren(this=upper)))


def _unique_names(tree: exp.Expr) -> exp.Expr:
    """A column projected twice under one name (`as_of` and `"as_of"`, one name to
    DuckDB) is projected once: Spark calls a later reference ambiguous. The two are
    always the same value in the engine's SQL; a differing pair is an error."""
    for select in list(tree.find_all(exp.Select)):
        seen: dict[str, str] = {}
        keep = []
        for projection in select.expressions:
            named = isinstance(projection, exp.Alias | exp.Column)
            name = projection.alias_or_name.lower() if named else ""
            value = projection.unalias().sql("duckdb")
            if name and name in seen and not isinstance(projection, exp.Star):
                if seen[name] != value:
                    raise ValueError(f"two different columns named {name}")
                continue
            seen[name] = value
            keep.append(projection)
        select.set("expressions", keep)
    return tree


def _named_windows(tree: exp.Expr) -> exp.Expr:
    """Every `OVER w` / `OVER (w ROWS ...)` spelt out from the WINDOW clause, which goes:
    Spark has no frame after a window name, and refuses a frame for lead/lag (where it
    never changed the value), which then keep only the partition and order."""
    for select in list(tree.find_all(exp.Select)):
        named = {w.name: w for w in select.args.get("windows") or []}
        if not named:
            continue
        for window in select.find_all(exp.Window):
            ref = window.args.get("alias")
            mine = window.find_ancestor(exp.Select) is select
            if not mine or not isinstance(ref, exp.Identifier) or ref.name not in named:
                continue
            spec = named[ref.name]
            window.set("alias", None)
            window.set("partition_by", [p.copy() for p in spec.args.get("partition_by") or []])
            order = spec.args.get("order")
            window.set("order", order.copy() if order else None)
            frame = window.args.get("spec") or spec.args.get("spec")
            offset = isinstance(window.this, exp.Lead | exp.Lag)
            window.set("spec", None if offset or frame is None else frame.copy())
        select.set("windows", None)
    return tree


def _series_tables(tree: exp.Expr) -> exp.Expr:
    """FROM generate_series(a, b, step) AS g -> FROM (SELECT explode(...) AS
    generate_series) AS g; `range(a, b)` gives a column named range, end excluded."""
    for table in list(tree.find_all(exp.Table)):
        series = table.this
        if not isinstance(series, exp.GenerateSeries):
            continue
        name = "range" if series.args.get("is_end_exclusive") else "generate_series"
        column = exp.alias_(exp.Explode(this=series.copy()), name)
        alias = table.alias or name
        table.replace(exp.select(column).subquery(alias))
    return tree


def _casts_of_generators(tree: exp.Expr) -> exp.Expr:
    """CAST(explode(list) AS t) -> explode(CAST(list AS ARRAY<t>))."""
    for cast in list(tree.find_all(exp.Cast)):
        inner = cast.this
        if isinstance(inner, exp.Explode):
            to = exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[cast.to.copy()],
                              nested=True)
            cast.replace(exp.Explode(this=exp.Cast(this=inner.this.copy(), to=to)))
    return tree


def _spark_functions(tree: exp.Expr) -> exp.Expr:
    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and node.name.lower() == "strlen":
            return exp.func("octet_length", *node.expressions)
        if isinstance(node, exp.Length) and node.args.get("binary"):
            return exp.func("octet_length", node.this)
        if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
            return WIDE_INT.copy()
        return node

    return tree.transform(fix, copy=False)


def _nested_ctes(tree: exp.Expr) -> exp.Expr:
    """A WITH inside a query gets names of its own: Spark lifts every CTE to the top,
    where a context built over candidates that are a context themselves would define
    `lr_candidates` twice. Innermost first, so each reference keeps its scope; a table
    read without an alias keeps its old name as one (columns are qualified by it)."""
    withs = [w for w in tree.find_all(exp.With) if w.parent is not tree]
    for number, with_ in enumerate(reversed(withs), start=1):
        query = with_.parent
        assert query is not None
        for cte in with_.expressions:
            old, new = cte.alias, f"{cte.alias}_{number}"
            cte.set("alias", exp.TableAlias(this=exp.to_identifier(new)))
            for table in query.find_all(exp.Table):
                if table.name == old and not table.db:
                    if not table.alias:
                        table.set("alias", exp.TableAlias(this=exp.to_identifier(old)))
                    table.set("this", exp.to_identifier(new))
    return tree


def _no_materialized(tree: exp.Expr) -> exp.Expr:
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)
    return tree


REWRITES = (_asof_joins, _named_windows, _unique_names, _series_tables,
            _casts_of_generators, _spark_functions, _nested_ctes, _no_materialized)

__all__ = ["Macro", "Translator"]
