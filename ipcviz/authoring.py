"""Commands for people who write scenarios: docs, schema, show, new, list, screenshot.

Each is a plain function taking the parsed arguments and returning an exit status; the
command line (`cli.py`) only dispatches to them. Bad input gets one line and status 2.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

from ipcviz.format import escape_control
from ipcviz.host.outputs import OutputRefused, output_directory, output_problem
from ipcviz.scenario.opening import resolve_path
from ipcviz.scenario.paths import bundled_dir, bundled_scenarios

DOC_NAME = "scenario-format.md"
PNG_HINT = ("no PNG converter found, so only the SVG was saved; for PNG install rsvg-convert "
            "(Debian/Ubuntu: apt install librsvg2-bin) or `pip install cairosvg`")


def version() -> str:
    """The installed package's version."""
    from importlib.metadata import PackageNotFoundError, version as dist_version

    try:
        return dist_version("ipcviz")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


class VersionAction(argparse.Action):
    """`--version`: looks the version up only when asked (start-up stays cheap)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 **kwargs: object):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(f"ipcviz {version()}")
        parser.exit()


def _fail(line: str) -> int:
    print(escape_control(line), file=sys.stderr)  # it may quote a file or a name given
    return 2


# ---------------------------------------------------------------- docs and schema


def docs_path() -> Path:
    """The format reference: inside the installed package, or the source tree's docs/."""
    packaged = resources.files("ipcviz") / "docs" / DOC_NAME
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[1] / "docs" / DOC_NAME


def docs_command(args: argparse.Namespace) -> int:
    """The reference: in $PAGER (else less) on a terminal, else its text (`ipcviz docs |
    grep ...` reads it); `--path` prints where the file is."""
    path = docs_path()
    if not path.is_file():
        return _fail(f"{path}: the format reference is missing from this installation")
    if getattr(args, "path", False):
        print(path)
        return 0
    pager = shlex.split(os.environ.get("PAGER") or "") or ["less"]
    if not sys.stdout.isatty() or shutil.which(pager[0]) is None:
        sys.stdout.write(path.read_text(encoding="utf-8"))
        return 0
    return subprocess.run([*pager, str(path)], check=False).returncode


def schema_command(args: argparse.Namespace) -> int:
    """Print the JSON Schema generated from the models (the shipped file is the same text)."""
    from ipcviz.scenario.json_schema import schema_text

    sys.stdout.write(schema_text())
    return 0


# ---------------------------------------------------------------- show and new


def _bundled(name: str) -> Path | None:
    """A bundled scenario by name (with or without .yaml), never a path on disk."""
    stem = name[:-5] if name.endswith(".yaml") else name
    for path in bundled_scenarios():
        if path.stem == stem:
            return path
    return None


def _unknown(name: str) -> int:
    names = ", ".join(p.stem for p in bundled_scenarios())
    return _fail(f"{name}: no bundled scenario of that name (bundled: {names})")


def show_command(args: argparse.Namespace) -> int:
    """Print a bundled scenario's YAML as shipped, its schema line made absolute: a copy
    saved elsewhere (`ipcviz show NAME > mine.yaml`) keeps the editor's completion."""
    path = _bundled(args.name)
    if path is None:
        return _unknown(args.name)
    sys.stdout.write(with_absolute_modeline(path.read_text(encoding="utf-8")))
    return 0


def with_absolute_modeline(text: str) -> str:
    """The file's `# yaml-language-server: $schema=...` first line pointing at the shipped
    schema by absolute path (added when the file has none)."""
    from ipcviz.scenario.json_schema import MODELINE_PREFIX

    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith(MODELINE_PREFIX):
        lines = lines[1:]
    return modeline() + "\n" + "".join(lines)


def modeline() -> str:
    """The first line of a new file: the shipped schema by absolute path, for the editor."""
    from ipcviz.scenario.json_schema import MODELINE_PREFIX, SCHEMA_FILENAME

    return f"{MODELINE_PREFIX}{bundled_dir().resolve() / SCHEMA_FILENAME}"


STARTER = """\
{modeline}
# A scenario: channels (kernel objects), workers (processes) and what each one does.
# The whole format: `ipcviz docs`. Check this file: `ipcviz validate {filename}`.
# Run it: `ipcviz launch {filename}`, or headless: `ipcviz run {filename} --headless --check`.
version: 1
name: My scenario
description: |
  One or two sentences: what the student should see happen. The first sentence is
  what `ipcviz list` and the picker show.
duration: 5                       # seconds a headless run lasts at most

channels:                         # name -> {{kind: ..., options}}
  data: {{kind: pipe}}              # pipe | fifo | socket | mqueue | queue |
                                  # shared_array | semaphore | mmap | file | rpc

workers:                          # name -> definition; started in file order
  producer:
    loop: 10                      # true (forever), false (once) or a number of times
    steps:                        # each step is a mapping with one key
      - write: {{to: data, data: "hello"}}
      - sleep: 0.2
  consumer:
    loop: 10
    handlers: {{SIGUSR1: count}}    # count | ignore | default | exit | log | reap
    steps:
      - read: {{from: data, bytes: 5}}

timeline:                         # actions at fixed times (seconds after the start)
  - {{at: 1.0, signal: {{to: consumer, sig: SIGUSR1, count: 3}}}}

triggers:                         # extra keys in the live view, same actions
  - {{key: x, label: "Kill the producer", kill: producer}}

expect:                           # checked by `ipcviz run FILE --headless --check`
  - {{channel: data, bytes_written: 50, bytes_read: 50}}
  - {{worker: consumer, signals_received: {{SIGUSR1: ">=1"}}}}
"""


def new_command(args: argparse.Namespace) -> int:
    """Write a starter scenario (or a copy of a bundled one) to FILE; never overwrite."""
    target = Path(args.file)
    if args.from_ is not None:
        source = _bundled(args.from_)
        if source is None:
            return _unknown(args.from_)
        text = with_absolute_modeline(source.read_text(encoding="utf-8"))
    else:
        text = STARTER.format(modeline=modeline(), filename=shlex.quote(str(target)))
    try:
        # O_EXCL: an existing file, or a symlink planted at the name, is never written through
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return _fail(f"{target}: already exists; not overwritten (choose another name)")
    except OSError as exc:
        return _fail(f"{target}: cannot create: {exc.strerror}")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    origin = f"a copy of {args.from_}" if args.from_ else "a starter scenario"
    print(escape_control(f"wrote {target} ({origin}); check it with `ipcviz validate {target}`"),
          file=sys.stderr)
    return 0


# ---------------------------------------------------------------- list

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def first_sentence(text: str) -> str:
    """The first whole sentence of a description, on one line (no mid-sentence cut)."""
    flat = " ".join(text.split())
    for match in _SENTENCE_END.finditer(flat):
        end = match.end()
        if not flat[:end].lower().endswith(_ABBREVIATIONS):
            return flat[:end]
    return flat


def list_command(args: argparse.Namespace) -> int:
    """Each bundled scenario: name, title and the first sentence (--long: everything)."""
    from ipcviz.scenario.load import ScenarioError, load_scenario

    for path in bundled_scenarios():
        try:
            scenario = load_scenario(path)
        except ScenarioError:
            print(escape_control(f"{path.stem:<28} (does not load)"))
            continue
        description = scenario.model.description
        if args.long:
            print(escape_control(f"{path.stem}: {scenario.name}"))
            for line in description.strip().splitlines():
                print(escape_control(f"    {line}"))
            print()
        else:
            print(escape_control(f"{path.stem:<28} {scenario.name}: "
                                 f"{first_sentence(description)}"))
    return 0


# ---------------------------------------------------------------- screenshot


def screenshot_command(args: argparse.Namespace) -> int:
    """One picture into the current directory (or -o), or --all -o DIR for a gallery."""
    from ipcviz.scenario.load import ScenarioError, load_scenario

    try:
        width, height = (int(x) for x in args.size.lower().split("x"))
    except ValueError:
        return _fail(f"--size: {args.size!r} is not WIDTHxHEIGHT, e.g. 120x40")
    if args.all:
        if args.scenario:
            return _fail("screenshot: give a SCENARIO or --all, not both")
        if not args.output:
            return _fail("screenshot --all: say where the gallery goes with -o DIR "
                         "(e.g. -o screenshots)")
        return _gallery(Path(args.output), (width, height))
    if not args.scenario:
        return _fail("screenshot: give a SCENARIO, or --all -o DIR")
    try:
        load_scenario(args.scenario)
    except ScenarioError as exc:
        for line in exc.lines:  # they quote the file: its control characters escaped
            print(escape_control(line), file=sys.stderr)
        return 2
    path = resolve_path(args.scenario)
    output = Path(args.output or f"{Path(path).stem}.svg")
    if output.suffix != ".svg":
        return _fail(f"-o {output}: the picture is saved as SVG; give a name ending in .svg")
    for item in (output, output.with_suffix(".png")):  # before the run: a refusal is free
        problem = output_problem(item)
        if problem:
            return _fail(problem)
    from ipcviz.tui.screenshot import CaptureFailed

    try:
        if not _save(path, args.at, (width, height), output, tuple(args.press)):
            print(PNG_HINT, file=sys.stderr)
    except OutputRefused as exc:
        return _fail(str(exc))
    except CaptureFailed as exc:
        for line in exc.lines:
            _fail(line)
        return 2
    return 0


def _save(path: str, at: float, size: tuple[int, int], output: Path,
          press: tuple[str, ...]) -> bool:
    """Save the SVG (and PNG when a converter exists); True when a PNG was made too."""
    from ipcviz.tui.screenshot import screenshot

    saved = screenshot(path, at, size, output, press)
    for item in saved:
        print(escape_control(f"saved {item}"))
    return len(saved) > 1


def _gallery(directory: Path, size: tuple[int, int]) -> int:
    from ipcviz.tui.gallery import GALLERY

    names = [p.stem for p in bundled_scenarios()]
    missing = sorted(set(names) - set(GALLERY))
    if missing:
        return _fail(f"gallery: no moment chosen for {', '.join(missing)} "
                     "(ipcviz/tui/gallery.py)")
    try:
        output_directory(directory)
        for item in (directory / f"{name}{suffix}" for name in names
                     for suffix in (".svg", ".png")):
            problem = output_problem(item)
            if problem:
                return _fail(problem)
        all_png = True
        for i, name in enumerate(names, 1):
            moment = GALLERY[name]
            print(f"[{i}/{len(names)}] {name} at {moment.at} s", file=sys.stderr)
            all_png &= _save(resolve_path(name), moment.at, size, directory / f"{name}.svg",
                             moment.keys)
    except OutputRefused as exc:
        return _fail(str(exc))
    if not all_png:
        print(PNG_HINT, file=sys.stderr)
    return 0
