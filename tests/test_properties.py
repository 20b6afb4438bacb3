"""Generated valid scenarios, run for real: the accounting invariants always hold."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipcviz.worker.bursts import BURST

from .conftest import run_scenario

PIPES = ["p0", "p1"]
SIGNALS = ["SIGUSR1", "SIGUSR2", "SIGRTMIN+1"]

step = st.one_of(
    st.builds(lambda to, n: f"{{write: {{to: {to}, size: {n}}}}}",
              st.sampled_from(PIPES), st.integers(1, 5000)),
    st.builds(lambda src, n: f"{{read: {{from: {src}, bytes: {n}, block: false}}}}",
              st.sampled_from(PIPES), st.integers(1, 5000)),
    st.builds(lambda q: f"{{send: {{to: q, data: {q!r}, block: false}}}}", st.text("ab", min_size=1, max_size=8)),
    st.just("{receive: {from: q, block: false}}"),
    st.builds(lambda q: f"{{send: {{to: q, data: {q!r}}}}}", st.text("ab", min_size=1, max_size=8)),
    st.just("{receive: {from: q}}"),
    st.builds(lambda t: f"{{sleep: {t}}}", st.sampled_from([0, 0.01, 0.05])),
)
worker = st.tuples(st.lists(step, min_size=1, max_size=4), st.booleans(), st.integers(1, 3))
event = st.tuples(st.floats(0.05, 0.8), st.integers(0, 3), st.sampled_from(SIGNALS + ["kill"]),
                  st.integers(1, 5))


def render(workers, events) -> str:
    lines = ["duration: 1", "channels:", "  p0: {kind: pipe, capacity: 4096}",
             "  p1: {kind: pipe}", "  q: {kind: mqueue, capacity: 3, message_size: 32}",
             "workers:"]
    for i, (steps, catches, count) in enumerate(workers):
        lines.append(f"  w{i}:")
        lines.append(f"    count: {count}")
        if catches:
            lines.append("    handlers: {" + ", ".join(f"{s}: count" for s in SIGNALS) + "}")
        lines.append("    loop: true")
        lines.append("    steps: [" + ", ".join(steps) + "]")
    lines.append("timeline:")
    for at, target, what, count in events:
        name = f"w{target % len(workers)}"
        if what == "kill":
            lines.append(f"  - {{at: {at:.2f}, kill: {name}}}")
        else:
            lines.append(f"  - {{at: {at:.2f}, signal: {{to: {name}, sig: {what}, count: {count}}}}}")
    if not events:
        lines[-1] = "timeline: []"
    return "\n".join(lines) + "\n"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(worker, min_size=1, max_size=4), st.lists(event, max_size=4))
def test_invariants_hold_for_generated_scenarios(tmp_path_factory, workers, events) -> None:
    path = tmp_path_factory.mktemp("gen") / "scenario.yaml"
    path.write_text(render(workers, events))
    summary = run_scenario(path, timeout=60)
    # A process killed between a system call and the count right after it takes that
    # one operation's count with it (no user-space counter can close that window), and a
    # one-step loop counts once per burst of up to BURST operations. So: exact where no
    # kill touched the channel, else off by at most BURST ops per killed process.
    slack = {"p0": 0, "p1": 0, "q": 0}
    for _, target, what, _ in events:
        steps, catches, count = workers[target % len(workers)]
        if what != "kill" and catches:
            continue  # a caught signal ends nothing; an uncaught one terminates like a kill
        for channel in slack:
            if any(f" {channel}," in step for step in steps):
                slack[channel] += count
    for name, ch in summary["channels"].items():
        if ch["kind"] == "pipe":
            gap = ch["bytes_written"] - (ch["bytes_read"] + ch["buffered"])
            assert abs(gap) <= slack[name] * BURST * 5000, (name, gap)
            if not slack[name]:
                assert ch["bytes_read"] <= ch["bytes_written"], name
        if ch["kind"] == "mqueue":
            assert 0 <= ch["depth"] <= ch["capacity"], name
            gap = ch["messages_sent"] - (ch["messages_received"] + ch["depth"])
            assert abs(gap) <= slack[name] * BURST, (name, gap)
    for name, w in summary["workers"].items():
        for sig, got in w["signals_received"].items():
            assert got <= w["signals_sent_to"].get(sig, 0), (name, sig)
    assert summary["leaks"] == {"processes": 0, "ipc_objects": 0}
