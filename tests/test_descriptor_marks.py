"""Every change a worker makes to its descriptor table is marked, or says why it need not
be: the sampler keeps a plain worker's pipe ends while its row's descriptor generation
and its count of descriptors stay the same (runtime/pipe_holders.py), so a new close or
dup of a pipe's end in the worker's code that is not inside `changing_descriptors`
would leave a frame with an end that is gone. Read from the source with `ast`: each
call that may add or remove a descriptor, in the code that runs in a worker, is inside a
`with ...changing_descriptors(...)` block or its function is listed below with why."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

PACKAGE = Path(ROOT) / "ipcviz"
#: the code that runs inside a worker process (its fork's first steps included)
WORKER_CODE = sorted((PACKAGE / "worker").rglob("*.py")) + [PACKAGE / "runtime" / "infork.py"]
#: calls that may add or remove a descriptor (os.X or socket.X)
CHANGES = frozenset({"close", "closerange", "dup", "dup2", "pipe", "pipe2", "open", "fdopen",
                     "fromfd", "socketpair", "recv_fds", "fork", "execv", "execve",
                     "execvp", "execvpe", "posix_spawn", "set_inheritable"})
#: (module path, function) -> why its changes need no mark of their own
UNMARKED = {
    ("worker/eintr.py", "blocking_copy"): "its one caller wraps it in row.changing_descriptors()",
    ("worker/interpreter.py", "_read_gate"): "closes the start gate: not one of the run's pipes",
    ("worker/interpreter.py", "spawn"): "fork leaves the parent's table as it was; the child "
                                        "is another pid, read on every frame",
    ("worker/signals.py", "__init__"): "the wake-up pipe is made: not one of the run's pipes",
    ("worker/signals.py", "close"): "a spawned child closes the wake-up pipe: not one of the "
                                    "run's pipes (and a child is read on every frame)",
    ("runtime/infork.py", "become_worker"): "its one caller, run_in_fork, wraps it in "
                                            "changing_descriptors",
}
#: functions that change descriptors unmarked because every call of them is marked
WRAPPED = frozenset({"blocking_copy", "become_worker"})


def _unmarked_changes() -> set[tuple[str, str, str]]:
    """(module, function, call) of each descriptor change outside a marked block."""
    found: set[tuple[str, str, str]] = set()
    for path in WORKER_CODE:
        module = str(path.relative_to(PACKAGE))

        def visit(node: ast.AST, function: str, marked: bool) -> None:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                function = node.name
            if isinstance(node, ast.With) and any(
                    "changing_descriptors" in ast.unparse(item.context_expr)
                    for item in node.items):
                marked = True
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("os", "socket")
                    and node.func.attr in CHANGES and not marked):
                found.add((module, function, f"{node.func.value.id}.{node.func.attr}"))
            if isinstance(node, ast.Call) and not marked:
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in WRAPPED:
                    found.add((module, function, f"{name}()"))
            for child in ast.iter_child_nodes(node):
                visit(child, function, marked)

        visit(ast.parse(path.read_text(), str(path)), "<module>", False)
    return found


def test_every_descriptor_change_in_a_worker_is_marked_or_explained() -> None:
    unexplained = sorted(c for c in _unmarked_changes()
                         if c[:2] not in UNMARKED and not c[2].endswith("()"))
    assert unexplained == [], (
        "a worker changes its descriptors outside changing_descriptors (the sampler would "
        f"keep pipe ends that are gone): {unexplained}")


def test_what_is_called_only_marked_is() -> None:
    """blocking_copy and become_worker mark nothing themselves: every call of them does."""
    assert sorted(c for c in _unmarked_changes() if c[2].endswith("()")) == []


def test_every_explanation_is_still_needed() -> None:
    """The list only shrinks: an entry whose function no longer changes a descriptor
    unmarked goes."""
    used = {c[:2] for c in _unmarked_changes() if not c[2].endswith("()")}
    assert sorted(set(UNMARKED) - used) == []
