"""Which tables, indexes and DynamoDB actions each function's code can reach, read from the code
itself: the stack grants each role exactly these (least privilege, issue 17), tests/infra checks
the template against them and tests/topology runs the functions behind a DynamoDB that refuses the
rest.

The derivation reads the source (ast), never runs it:
  1. a function's entries are what its handler in app.py names (`stream.handle`); the API's, every
     name of the modules app.py's top level names (its blueprints' routes are registered by
     decorators: any may be called); the watcher's, every name of its module;
  2. its code is what those reach, name by name through `chalicelib`: a top-level function, class
     (all of it) or assignment is reached when reached code names it, directly, by its module
     (`executions.get`) or through a re-export, with the statements that run when its modules are
     imported. Annotations (strings at run time) and `TYPE_CHECKING` imports reach nothing; a
     module used as a value reaches all of its names;
  3. its tables are the models (chalicelib.store.models) its code reaches, its indexes the index
     attributes that code names on them (`ExecutionModel.queue_index`);
  4. its actions are the DynamoDB operations whose PynamoDB (or low-level client) method names its
     code calls, whatever the receiver: `.update(` of a dict counts as UpdateItem. Over-approximate,
     and so safe; an operation by another name would have to be added to OPERATIONS.
Every action is granted on every table of the function (and Query, Scan on its indexes): which
table an operation reaches through a generic helper (store.rows) is not knowable by reading alone,
so the tables and indexes are what least privilege gains here.
"""
from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.settings import settings
from chalicelib.store.models import ALL_MODELS

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
PACKAGE = "chalicelib"
# The watcher's process (infra/watcher.Dockerfile: `python -m chalicelib.forge.watcher`).
WATCHER = "Watcher"
WATCHER_MODULE = "chalicelib.forge.watcher"
API_HANDLER = "APIHandler"
MODELS = "chalicelib.store.models"

# PynamoDB's (and botocore's) method names -> the IAM action each call needs. Transactions are
# authorised per item (TransactWriteItems needs PutItem, UpdateItem, DeleteItem, ConditionCheckItem
# as its items do; TransactGetItems GetItem): their item calls are these same names.
OPERATIONS: dict[str, str] = {
    "get": "dynamodb:GetItem", "refresh": "dynamodb:GetItem", "get_item": "dynamodb:GetItem",
    "batch_get": "dynamodb:BatchGetItem", "batch_get_item": "dynamodb:BatchGetItem",
    "query": "dynamodb:Query", "count": "dynamodb:Query",
    "scan": "dynamodb:Scan",
    "save": "dynamodb:PutItem", "put_item": "dynamodb:PutItem",
    "update": "dynamodb:UpdateItem", "update_item": "dynamodb:UpdateItem",
    "delete": "dynamodb:DeleteItem", "delete_item": "dynamodb:DeleteItem",
    "condition_check": "dynamodb:ConditionCheckItem",
    "batch_write": "dynamodb:BatchWriteItem", "batch_write_item": "dynamodb:BatchWriteItem",
    "exists": "dynamodb:DescribeTable", "describe_table": "dynamodb:DescribeTable",
}
# What an index answers (IAM authorises Query and Scan of an index on the index's own ARN).
INDEX_ACTIONS = frozenset({"dynamodb:Query", "dynamodb:Scan"})


@dataclass(frozen=True)
class Access:
    """What one function may do: tables by short name ("executions"), indexes as (table, index)."""
    tables: frozenset[str]
    indexes: frozenset[tuple[str, str]]
    actions: frozenset[str]

    @property
    def index_actions(self) -> frozenset[str]:
        return self.actions & INDEX_ACTIONS


def _logical_id(name: str) -> str:
    """Chalice's logical id of a function named in app.py: execution_stream -> ExecutionStream."""
    return "".join(part.capitalize() for part in name.split("_"))


def _module_path(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_package(module: str) -> bool:
    return (ROOT.joinpath(*module.split(".")) / "__init__.py").is_file()


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if _is_package(module) else module.split(".")[:-1]
    package = package[:len(package) - node.level + 1]
    return ".".join(package + ([node.module] if node.module else []))


def _packages(module: str) -> list[str]:
    """The packages importing a module runs, outermost first, and the module itself."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


class _Module:
    """One module of chalicelib read for reaching: its top-level names (a def, a class, an
    assignment: each reached only when named), the names its imports bind, and the statements
    that run whenever it is imported (the rest: registrations, `if __name__ == "__main__"`)."""

    def __init__(self, name: str, path: Path | None = None) -> None:
        path = path or _module_path(name)
        assert path is not None, name
        self.name = name
        tree = ast.parse(path.read_text(), str(path))
        self.symbols: dict[str, list[ast.AST]] = {}
        self.imports: dict[str, str] = {}  # bound name -> "module" or "module:member"
        self.init: list[ast.AST] = []
        for statement in tree.body:
            self._read(statement)

    def _read(self, statement: ast.stmt) -> None:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.symbols.setdefault(statement.name, []).append(statement)
        elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            for name in names:
                self.symbols.setdefault(name, []).append(statement)
        elif isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.name.startswith(PACKAGE + "."):
                    # `import chalicelib.x.y` binds `chalicelib`; `as z` binds the module itself.
                    self.imports[alias.asname or PACKAGE] = alias.name if alias.asname else PACKAGE
        elif isinstance(statement, ast.ImportFrom):
            source = _absolute(self.name, statement)
            if source == PACKAGE or source.startswith(PACKAGE + "."):
                for alias in statement.names:
                    submodule = f"{source}.{alias.name}"
                    self.imports[alias.asname or alias.name] = submodule if _module_path(submodule) else \
                        f"{source}:{alias.name}"
        elif isinstance(statement, ast.If) and _is_type_checking(statement.test):
            return  # names for the type checker only: nothing runs
        elif isinstance(statement, (ast.If, ast.Try)):
            # Definitions under a condition (a fallback import, a platform's variant): each kept.
            for inner in [*statement.body, *statement.orelse, *getattr(statement, "finalbody", []),
                          *(s for h in getattr(statement, "handlers", []) for s in h.body)]:
                self._read(inner)
            self.init.append(statement.test if isinstance(statement, ast.If) else ast.Pass())
        else:
            self.init.append(statement)


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or \
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


@cache
def _module(name: str) -> _Module:
    return _Module(name)


def _without_annotations(node: ast.AST) -> list[ast.AST]:
    """A node's parts that run: annotations are strings at run time (`from __future__ import
    annotations`, which every module has) and name types, not calls."""
    found: list[ast.AST] = []
    todo = [node]
    while todo:
        current = todo.pop()
        found.append(current)
        for name, value in ast.iter_fields(current):
            if name in ("annotation", "returns") and isinstance(current, (ast.arg, ast.FunctionDef,
                                                                         ast.AsyncFunctionDef, ast.AnnAssign)):
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    todo.append(child)
    return found


class _Reach:
    """The code a function can run: symbols reached from its entries by the names they use."""

    def __init__(self) -> None:
        self.symbols: set[tuple[str, str]] = set()
        self.modules: set[str] = set()
        self.nodes: list[ast.AST] = []  # every node reached, annotations left out
        self.named: list[tuple[str, ast.AST]] = []  # (module, node) to resolve names in
        self._todo: list[tuple[str, str]] = []

    def module(self, name: str) -> None:
        """A module imported: its packages' and its own import-time statements run."""
        for module in _packages(name):
            if module in self.modules or _module_path(module) is None:
                continue
            self.modules.add(module)
            for statement in _module(module).init:
                self._visit(module, statement)

    def all_of(self, name: str) -> None:
        """Every name of a module: an entry module, or a module used as a value."""
        self.module(name)
        for symbol in _module(name).symbols:
            self.symbol(name, symbol)

    def symbol(self, module: str, name: str) -> None:
        self._todo.append((module, name))
        while self._todo:
            self._reach(*self._todo.pop())

    def _reach(self, module: str, name: str) -> None:
        if (module, name) in self.symbols:
            return
        self.symbols.add((module, name))
        self.module(module)
        read = _module(module)
        if name in read.symbols:
            for node in read.symbols[name]:
                self._visit(module, node)
        elif name in read.imports:  # a name the module re-exports
            self._target(read.imports[name])
        elif _module_path(f"{module}.{name}"):
            self.all_of(f"{module}.{name}")

    def _target(self, target: str) -> None:
        if ":" in target:
            module, member = target.split(":")
            self._todo.append((module, member))
        else:
            self.all_of(target)

    def _visit(self, module: str, node: ast.AST) -> None:
        read = _module(module)
        nodes = _without_annotations(node)
        # `executions.get`: a module named only for its member (reached with the Attribute).
        bases = {id(n.value) for n in nodes if isinstance(n, ast.Attribute)}
        for current in nodes:
            self.nodes.append(current)
            if isinstance(current, ast.Attribute):
                self.named.append((module, current))
                resolved = self.resolve(module, current.value)
                if resolved is not None and ":" not in resolved:
                    # module.member: only that member (a submodule, or a name of the module).
                    self._todo.append((resolved, current.attr))
            elif isinstance(current, ast.Name) and isinstance(current.ctx, ast.Load):
                if current.id in read.symbols:
                    self._todo.append((module, current.id))
                elif current.id in read.imports and (id(current) not in bases or ":" in read.imports[current.id]):
                    self._target(read.imports[current.id])

    def resolve(self, module: str, node: ast.expr) -> str | None:
        """What an expression names: "module" or "module:member", or None (anything else)."""
        if isinstance(node, ast.Name):
            read = _module(module)
            if node.id in read.imports:
                return read.imports[node.id]
            return f"{module}:{node.id}" if node.id in read.symbols else None
        if isinstance(node, ast.Attribute):
            base = self.resolve(module, node.value)
            if base is None or ":" in base:
                return None
            if _module_path(f"{base}.{node.attr}"):
                return f"{base}.{node.attr}"
            return self._defined(base, node.attr)
        return None

    def _defined(self, module: str, name: str) -> str:
        """Where `module.name` is defined, following re-exports."""
        read = _module(module)
        if name not in read.symbols and name in read.imports:
            target = read.imports[name]
            return self._defined(*target.split(":")) if ":" in target else target
        return f"{module}:{name}"

    def drain(self) -> None:
        while self._todo:
            self._reach(*self._todo.pop())


def reach_of(entries: Iterable[tuple[str, str | None]]) -> _Reach:
    """The code reached from entries: (module, name), or (module, None) for all of a module."""
    reach = _Reach()
    for module, name in entries:
        if name is None:
            reach.all_of(module)
        else:
            reach.symbol(module, name)
    reach.drain()
    return reach


def entries() -> dict[str, list[tuple[str, str | None]]]:
    """Each function of app.py (by its logical id) -> what its handler names: a handler's body
    names its work (`stream.handle`); the API is every module app.py's top level names (its
    blueprints' routes are registered by decorators, so every name of those modules is an entry)."""
    app = _Module("app", APP)
    tree = ast.parse(APP.read_text(), str(APP))
    found: dict[str, list[tuple[str, str | None]]] = {API_HANDLER: []}

    def named(node: ast.AST) -> list[tuple[str, str | None]]:
        named: list[tuple[str, str | None]] = []
        for current in ast.walk(node):
            if isinstance(current, ast.Attribute) and isinstance(current.value, ast.Name) \
                    and current.value.id in app.imports and ":" not in app.imports[current.value.id]:
                named.append((app.imports[current.value.id], current.attr))
            elif isinstance(current, ast.Name) and current.id in app.imports:
                target = app.imports[current.id]
                named.append((target.split(":")[0], target.split(":")[1]) if ":" in target else (target, None))
        return named

    for statement in tree.body:
        function = _handler_name(statement)
        if function is not None:
            assert isinstance(statement, ast.FunctionDef)
            found[_logical_id(function)] = [n for s in statement.body for n in named(s)]
        elif not isinstance(statement, (ast.Import, ast.ImportFrom)):
            found[API_HANDLER] += [(module, None) for module, _ in named(statement)]
    return found


def _handler_name(statement: ast.stmt) -> str | None:
    """The function name an `@app.<event>(..., name=...)` handler has in the template (the API's
    routes are blueprints: not here)."""
    if not isinstance(statement, ast.FunctionDef):
        return None
    for decorator in statement.decorator_list:
        if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute) \
                and isinstance(decorator.func.value, ast.Name) and decorator.func.value.id == "app":
            for keyword in decorator.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
            return statement.name
    return None


def _models() -> dict[str, type[Model]]:
    return {model.__name__: model for model in ALL_MODELS}


def _index_attributes(model: type[Model]) -> dict[str, str]:
    """A model's index attributes -> the index's name."""
    return {name: value.Meta.index_name for name, value in vars(model).items()
            if isinstance(value, GlobalSecondaryIndex)}


def _short(model: type[Model]) -> str:
    return str(model.Meta.table_name).removeprefix(settings.table_prefix)


def access_of(reach: _Reach) -> Access:
    """The tables of the models reached, the indexes named on them, the operations called."""
    models = _models()
    reached = {models[name] for module, name in reach.symbols if module == MODELS and name in models}
    indexes: set[tuple[str, str]] = set()
    for module, node in reach.named:
        assert isinstance(node, ast.Attribute)
        owner = reach.resolve(module, node.value)
        if owner is not None and owner.startswith(f"{MODELS}:") and owner.split(":")[1] in models:
            model = models[owner.split(":")[1]]
            if node.attr in _index_attributes(model):
                indexes.add((_short(model), _index_attributes(model)[node.attr]))
    actions = {OPERATIONS[node.func.attr] for node in reach.nodes
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in OPERATIONS}
    return Access(frozenset(map(_short, reached)), frozenset(indexes), frozenset(actions))


def function_access() -> dict[str, Access]:
    """Each function of app.py, and the watcher, by logical id -> what its code can reach."""
    found = {name: access_of(reach_of(named)) for name, named in entries().items()}
    found[WATCHER] = access_of(reach_of([(WATCHER_MODULE, None)]))
    return found
