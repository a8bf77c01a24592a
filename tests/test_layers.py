"""The package tree is the architecture: each layer imports only itself and the layers below it.

    errors, log  <  core  <  config  <  store  <  sources  <  moderation  <  runtime  <  cli
                                                             sandbox, demo: beside them

`relay.core` is pure: none of its modules (nor any relay module they use) imports a network,
database, clock, thread or process library. Modules elsewhere whose docstring begins with "PURE"
(the DM grammar, the moderation guards, the checklist) are held to the same rule. Read from the
source with `ast`, so a violation fails here before anything runs.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

import relay

PACKAGE = Path(relay.__file__).parent
LAYERS = ("errors", "log", "core", "config", "store", "sources", "moderation", "runtime", "cli")
BASE = {"errors": 0, "log": 0}  # the two shared modules below everything
# What a pure module may not import: talking, waiting, threads, files and processes by other means.
FORBIDDEN = {
    "mastodon",
    "requests",
    "urllib3",
    "sseclient",
    "feedparser",
    "sqlite3",
    "socket",
    "http",
    "urllib.request",
    "threading",
    "asyncio",
    "multiprocessing",
    "subprocess",
    "time",
    "os",
    "structlog",
    "logging",
    "prometheus_client",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def direct_imports(module: str) -> frozenset[str]:
    """The absolute names `module` imports (an `from a import b` counts `a` and `a.b`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(names)


def relay_imports(module: str) -> set[str]:
    """The relay modules `module` imports directly."""
    return {name for name in direct_imports(module) if name in MODULES and name != module}


def closure(module: str) -> set[str]:
    """`module` and every relay module it imports, however indirectly."""
    seen = {module}
    todo = [module]
    while todo:
        for name in relay_imports(todo.pop()) - seen:
            seen.add(name)
            todo.append(name)
    return seen


def layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def forbidden(module: str) -> set[str]:
    bad = set()
    for name in direct_imports(module):
        if (
            name in FORBIDDEN
            or name.split(".")[0] in FORBIDDEN - {"urllib", "http"}
            or name.split(".")[0] == "http"
            or name.startswith("urllib.request")
        ):
            bad.add(name)
    return bad


def pure_modules() -> list[str]:
    pure = [m for m in MODULES if layer(m) == "core"]
    for name, path in MODULES.items():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if layer(name) in LAYERS and layer(name) != "core" and doc.startswith("PURE"):
            pure.append(name)
    return pure


@pytest.mark.parametrize("module", pure_modules())
def test_pure_module_imports_nothing_that_talks_or_waits(module: str) -> None:
    """A pure module, and every relay module it uses, does no I/O and keeps no time."""
    bad = {m: sorted(forbidden(m)) for m in closure(module) if forbidden(m)}
    assert not bad, f"{module} reaches {bad}"


@pytest.mark.parametrize("module", [m for m in MODULES if layer(m) == "core"])
def test_core_uses_nothing_above_it(module: str) -> None:
    """`relay.core` builds on nothing but itself and `relay.errors`."""
    above = {m for m in relay_imports(module) if layer(m) not in ("core", "errors") and m != "relay"}
    assert not above, f"{module} imports {sorted(above)}"


@pytest.mark.parametrize("module", [m for m in MODULES if layer(m) in LAYERS])
def test_no_layer_imports_a_higher_one(module: str) -> None:
    """A lower layer never imports a higher one, nor the sandbox or the demo."""
    mine = LAYERS.index(layer(module)) if layer(module) not in BASE else BASE[layer(module)]
    higher = set()
    for name in relay_imports(module):
        other = layer(name)
        if other in ("sandbox", "demo") or (other in LAYERS and LAYERS.index(other) > mine):
            higher.add(name)
    assert not higher, f"{module} ({layer(module)}) imports {sorted(higher)}"


def test_the_layers_are_the_packages() -> None:
    """Every module of relay sits in a named layer (or the sandbox, the demo), none loose beside them."""
    loose = {m for m in MODULES if layer(m) not in (*LAYERS, "sandbox", "demo", "")}
    loose |= {m for m in MODULES if m.count(".") == 1 and layer(m) not in ("errors", "log", "__main__")}
    loose -= {f"relay.{name}" for name in LAYERS} | {"relay.sandbox", "relay.demo", "relay.sources"}
    loose.discard("relay.__main__")  # `python -m relay`
    assert not loose, sorted(loose)


# The store records; it decides nothing: no screening, no dedupe decision (its types are fine).
STORE_MAY_NOT_IMPORT = ("relay.core.screen", "relay.core.dedupe.decide")


@pytest.mark.parametrize("module", [m for m in MODULES if layer(m) == "store"])
def test_the_store_decides_nothing(module: str) -> None:
    """The storage layer imports neither the screening module nor the dedupe decision: the caller
    decides, the store records (the lifecycle tables it asks are the one exception, by design)."""
    bad = sorted(name for name in direct_imports(module) if name in STORE_MAY_NOT_IMPORT)
    assert not bad, f"{module} imports {bad}"


# A module that hands on another module's names keeps two addresses for one thing. The sandbox's
# package is its public face (`relay.sandbox.Fediverse`), the one module allowed to.
FACADES = {"relay.sandbox"}


def re_exports(module: str) -> set[str]:
    """Names `module` imports from another relay module and passes on (`__all__`, or `X as X`)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    imported: set[str] = set()
    passed_on: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("relay")):
            for alias in node.names:
                imported.add(alias.asname or alias.name)
                if alias.asname == alias.name:
                    passed_on.add(alias.name)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            passed_on.update(ast.literal_eval(node.value))
    return passed_on & imported


@pytest.mark.parametrize("module", sorted(set(MODULES) - FACADES))
def test_names_are_imported_from_their_owner(module: str) -> None:
    """No module re-exports another's names: each name has one address, the module that defines it."""
    assert not re_exports(module), (
        f"{module} re-exports {sorted(re_exports(module))}: import them from their owner"
    )


def test_the_checks_can_fail() -> None:
    """The reader sees a forbidden import and a layer breach where they are (not a vacuous pass)."""
    assert "relay.store.store" in relay_imports("relay.runtime.pipeline")
    assert "sqlite3" in forbidden("relay.store.db")
    assert "relay.core.dedupe.decide" in direct_imports("relay.runtime.pipeline")
    assert "relay.core.post" in closure("relay.core.screen")
    assert "Fediverse" in re_exports("relay.sandbox")
