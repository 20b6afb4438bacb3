"""Who holds each pipe's ends is read from every process's descriptors in one pass a
frame, whatever the number of pipes (each pipe of a frame read all of /proc's
descriptors again: at 16 pipes and 64 workers most of the runtime's time), and each
pipe's counts still come from that frame's pass."""

from __future__ import annotations

from ipcviz.runtime import channel_views
from ipcviz.runtime.pipe_holders import RUNTIME
from ipcviz.runtime.sampler import Sampler
from ipcviz.runtime.supervisor import Runtime
from ipcviz.scenario.load import load_text
from tests.waiting import wait_until

PIPES = 3
SCENARIO = ("channels:\n" + "".join(f"  p{i}: {{kind: pipe}}\n" for i in range(PIPES))
            + "workers:\n" + "".join(
                f"  w{i}: {{steps: [{{write: {{to: p{i}, size: 8}}}}, {{sleep: 60}}]}}\n"
                f"  r{i}: {{steps: [{{read: {{from: p{i}, bytes: 8}}}}, {{sleep: 60}}]}}\n"
                for i in range(PIPES))).encode()


def test_one_pass_over_the_descriptors_a_frame(monkeypatch, nothing_left_behind) -> None:
    passes: list[int] = []
    real = channel_views.holders_of

    def counted(inodes, processes):
        passes.append(len(list(processes)))
        return real(inodes, processes)

    monkeypatch.setattr(channel_views, "holders_of", counted)
    runtime = Runtime(load_text(SCENARIO, "pipes.yaml"))
    sampler = Sampler(runtime)
    try:
        runtime.start()

        def settled():
            snap = sampler.sample()
            done = all(snap.channel(f"p{i}").data.get("bytes_read") == 8 for i in range(PIPES))
            return snap if done and all(w.step_text == "sleep" for w in snap.workers) else None

        wait_until(settled, interval=0.1, message="every pipe read and every worker asleep")
        passes.clear()
        frames = 4
        for _ in range(frames):
            snap = sampler.sample()
        # one pass a frame over the runtime and its six workers, not one per pipe
        assert passes == [1 + 2 * PIPES] * frames
        for i in range(PIPES):
            data = snap.channel(f"p{i}").data
            writers = sorted(e.rpartition(" fd ")[0] for e in data["write_ends"])
            readers = sorted(e.rpartition(" fd ")[0] for e in data["read_ends"])
            # each worker's own end and the runtime's copies (it keeps them while a live
            # worker uses the pipe)
            assert writers == [RUNTIME, f"w{i}"] and readers == [RUNTIME, f"r{i}"]
            assert (data["write_ends_open"], data["read_ends_open"]) == (2, 2)
    finally:
        sampler.close()
        runtime.shutdown()
