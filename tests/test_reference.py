"""The format reference (docs/scenario-format.md) and the JSON Schema cannot drift.

Every schema field, step, channel kind, handler action, timeline action, allowed enum
value and every key a real headless summary holds must appear in the reference in
backticks; the shipped JSON Schema must be the one the models generate; and the JSON
Schema and the loader must agree on every bundled scenario and every malformed one.
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError

from ipcviz.scenario import schema as s
from ipcviz.scenario import refs, validate
from ipcviz.scenario.json_schema import MODELINE_PREFIX, SCHEMA_FILENAME, generate, schema_text
from ipcviz.scenario.yamlpos import YamlError, load_document

from .conftest import ROOT, SCENARIOS, run_cli, run_scenario

REFERENCE = ROOT / "docs" / "scenario-format.md"
BAD = Path(__file__).parent / "bad_scenarios"
SUMMARY_KEYS = Path(__file__).parent / "scenarios" / "summary_keys.yaml"


def documented() -> set[str]:
    """Every `name` written in backticks on its own in the reference."""
    return set(re.findall(r"`([^`\n]+)`", REFERENCE.read_text(encoding="utf-8")))


def _models(model: type[BaseModel], seen: dict[str, type[BaseModel]]) -> None:
    """Every pydantic model reachable from `model` through its fields."""
    if model.__name__ in seen:
        return
    seen[model.__name__] = model

    def walk(tp: object) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            _models(tp, seen)
        for arg in typing.get_args(tp):
            walk(arg)

    for field in model.model_fields.values():
        walk(field.annotation)


def _literals(tp: object) -> set[str]:
    """String values of every Literal inside an annotation."""
    if typing.get_origin(tp) is typing.Literal:
        return {v for v in typing.get_args(tp) if isinstance(v, str)}
    out: set[str] = set()
    for arg in typing.get_args(tp):
        out |= _literals(arg)
    return out


def schema_names() -> dict[str, set[str]]:
    models: dict[str, type[BaseModel]] = {}
    _models(s.Scenario, models)
    fields, values = set(), set()
    for model in models.values():
        for name, field in model.model_fields.items():
            fields.add(field.alias or name)
            values |= _literals(field.annotation)
    return {
        "schema field": fields,
        "allowed value": values,
        "step": set(s.STEP_NAMES),
        "channel kind": set(s.CHANNEL_KINDS),
        "handler action": set(typing.get_args(s.HandlerAction)),
        "timeline action": set(s.ACTION_NAMES),
        "expect key": set(refs.WORKER_KEYS | refs.CHANNEL_KEYS),
    }


def test_models_are_found() -> None:
    """The walk really reaches the nested models (else the next test would prove little)."""
    names = schema_names()
    assert {"ack_timeout", "enabled", "message_size", "interval", "spawned", "from",
            "times", "at", "key", "label"} <= names["schema field"]
    assert {"on-failure", "float32", "tcp", "forever", "unbounded"} <= names["allowed value"]


@pytest.mark.parametrize("what", sorted(schema_names()))
def test_every_schema_name_is_in_the_reference(what: str) -> None:
    missing = sorted(schema_names()[what] - documented())
    assert missing == [], f"{what}s missing from {REFERENCE.name} (write them in backticks)"


def _keys(value: object, out: set[str]) -> None:
    """Keys of the summary, recursively, except the user's own names (workers, channels)."""
    if isinstance(value, dict):
        for key, item in value.items():
            out.add(key)
            _keys(item, out)
    elif isinstance(value, list):
        for item in value:
            _keys(item, out)


def test_every_summary_key_is_in_the_reference(nothing_left_behind) -> None:
    summary = run_scenario(SUMMARY_KEYS)
    keys = set(summary)
    for section in ("leaks",):
        keys |= set(summary[section])
    for entry in summary["expect"]:
        keys |= set(entry)
    for entry in summary["workers"].values():
        keys |= set(entry)
    kinds = set()
    for entry in summary["channels"].values():
        keys |= set(entry)
        kinds.add(entry["kind"])
    # the run really covers what it is meant to: every kind, a blocked worker, a big array
    assert kinds == set(s.CHANNEL_KINDS)
    assert {"blocked_on", "heat", "holders", "spool_bytes", "deadlock_at", "actual"} <= keys
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}
    missing = sorted(keys - documented())
    assert missing == [], f"summary keys missing from {REFERENCE.name}"


def test_reference_stands_alone() -> None:
    """It ships alone, so it may not send the reader to files that are not there."""
    text = REFERENCE.read_text(encoding="utf-8")
    for name in ("SCENARIO_FORMAT", "LESSONS.md", "DESIGN.md", "../shared"):
        assert name not in text


# ---------------------------------------------------------------- the JSON Schema


def test_shipped_schema_is_the_generated_one() -> None:
    shipped = (SCENARIOS / SCHEMA_FILENAME).read_text(encoding="utf-8")
    assert shipped == schema_text(), ("scenarios/scenario-schema.json is stale: regenerate with "
                                      "`ipcviz schema > scenarios/scenario-schema.json`")


def test_schema_command_prints_it() -> None:
    result = run_cli("schema")
    assert result.returncode == 0, result.stderr
    assert result.stdout == schema_text()
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    step = schema["$defs"]["Step"]
    assert step["properties"]["write"]["description"]
    assert schema["$defs"]["Worker"]["properties"]["restart"]["enum"] == [
        "never", "on-failure", "always"]


def test_bundled_scenarios_name_the_schema_on_their_first_line() -> None:
    for path in sorted(SCENARIOS.glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(MODELINE_PREFIX), path.name
        assert (path.parent / first[len(MODELINE_PREFIX):]).is_file(), path.name


def _loader_verdict(raw: bytes) -> str | None:
    """'ok', 'schema' (the models refuse it), 'reference' (whole-file checks refuse it),
    or None when it is not even YAML the loader reads (nothing to give a JSON validator)."""
    try:
        doc = load_document(raw)
    except YamlError:
        return None
    try:
        model = s.Scenario.model_validate(doc.data)
    except ValidationError:
        return "schema"
    return "reference" if list(validate.check(model)) else "ok"


CORPUS = sorted(SCENARIOS.glob("*.yaml")) + sorted(BAD.glob("*.yaml"))


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_json_schema_and_loader_agree(path: Path) -> None:
    verdict = _loader_verdict(path.read_bytes())
    if verdict is None:
        pytest.skip("not YAML the loader reads (syntax, tags, aliases, size)")
    if path.parent == SCENARIOS:
        assert verdict == "ok"
    data = json.loads(json.dumps(load_document(path.read_bytes()).data))
    errors = [e.message for e in jsonschema.Draft202012Validator(generate()).iter_errors(data)]
    if verdict == "schema" and not _non_finite(data):
        assert errors, "the loader refuses this file's shape, the JSON Schema accepts it"
    elif verdict == "ok":
        assert errors == [], "the JSON Schema refuses a file the loader accepts"
    # a file the whole-file checks refuse may or may not fit the JSON Schema (an `expect`
    # entry naming a worker with a list, say): the loader refuses it either way


def _non_finite(data: object) -> bool:
    """NaN and infinity: YAML has them, JSON Schema cannot tell them from numbers."""
    if isinstance(data, float):
        return data != data or data in (float("inf"), float("-inf"))
    if isinstance(data, dict):
        return any(_non_finite(v) for v in data.values())
    if isinstance(data, list):
        return any(_non_finite(v) for v in data)
    return False


def test_corpus_covers_both_kinds_of_refusal() -> None:
    verdicts = [_loader_verdict(p.read_bytes()) for p in sorted(BAD.glob("*.yaml"))]
    assert verdicts.count("schema") >= 15 and verdicts.count("reference") >= 15


def test_readme_links_only_to_files_in_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("SCENARIO_FORMAT", "LESSONS.md", "DESIGN.md", "../shared"):
        assert name not in readme
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme):
        if "://" not in target:
            assert (ROOT / target).exists(), target
    assert "docs/scenario-format.md" in readme


def test_whole_file_examples_in_the_reference_load() -> None:
    """Every example that is a whole scenario (it has `workers:`) passes `ipcviz validate`."""
    from ipcviz.scenario.load import load_text

    blocks = re.findall(r"```yaml\n(.*?)```", REFERENCE.read_text(encoding="utf-8"), re.S)
    whole = [b for b in blocks if re.search(r"^workers:", b, re.M)]
    assert len(whole) >= 4
    for block in whole:
        load_text(block.encode(), "example.yaml")  # raises ScenarioError with the lines
