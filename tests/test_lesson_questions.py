"""Every bundled lesson asks at least one question; the answer is printed nowhere the
student sees before answering (the description, which the picker and `ipcviz list`
show, and the list line); and it is deterministic: a real run graded under CPU load
gives exactly the value this table holds."""

from __future__ import annotations

import multiprocessing
import re

import pytest

from ipcviz.host import syscall_count
from ipcviz.scenario.load import load_scenario
from ipcviz.scenario.paths import bundled_scenarios

from .conftest import run_cli

#: each bundled lesson's answers, in the order of its questions: what a real run gives
ANSWERS: dict[str, tuple[object, ...]] = {
    "signals_handlers": (20,),
    "signals_coalescing": (1,),
    "sigchld_zombies": (10, 0),
    "sigaction_flags": (3, 1),
    "pipe_oneway": (65536,),
    "pipe_two_way": (520,),
    "pipe_bidirectional_race": (5,),
    "pipe_backpressure": ("SIGPIPE",),
    "fifo_unrelated": ("0",),
    "fifo_both_ways": (5,),
    "pipe_eof_never": (1,),
    "shell_pipeline": (4,),
    "mqueue_bounded": (5,),
    "sysv_message_types": (4,),
    "mailbox_indirect": (8,),
    "queue_capacity": (12,),
    "nonblocking_receive": (0,),
    "message_duplication": (4,),
    "socket_echo": (80,),
    "tcp_handshake": (4,),
    "udp_vs_tcp": (1, 191),
    "rpc_call": (1,),
    "echo_store_server": (50, 0),
    "fork_address_spaces": ("red",),
    "shm_numpy": (46,),
    "shm_lifetime": (18, "SIGBUS"),
    "shm_counter_race": (0,),
    "race_by_hand": (1, 3),
    "counting_semaphore": (3,),
    "shm_signal_notify": (259,),
    "mmap_file": (152,),
    "mmap_window": (64,),
    "file_handoff": (0, 3),
    "syscall_cost": (20000, 0),
    "speed_race": ("1",),
    "deadlock": ("a (dead)",),
    "deadlock_by_hand": ("blocked",),
}

LESSONS = [p.stem for p in bundled_scenarios()]
#: lessons whose answers need what a machine may lack: why not here, or None
NEEDS = {"syscall_cost": syscall_count.unavailable}


def shown_forms(answer: object) -> list[re.Pattern[str]]:
    """The ways an answer could be printed: the number as a word of its own (not the 1
    of "SIGUSR1", "1.5 s" or "1/16"), a byte count in KiB too; a text as itself."""
    text = str(answer)
    if re.fullmatch(r"\d+", text):
        forms = [re.compile(rf"(?<![\w.+/-]){text}(?![\w/]|\.\d)")]
        number = int(text)
        if number >= 1024 and number % 1024 == 0:
            forms.append(re.compile(rf"(?<![\w.]){number // 1024}\s*KiB"))
        return forms
    return [re.compile(rf"(?<!\w){re.escape(text)}(?!\w)", re.IGNORECASE)]


def test_the_table_has_every_bundled_lesson() -> None:
    assert sorted(ANSWERS) == sorted(LESSONS)


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_lesson_asks_and_hides_its_answers(lesson: str) -> None:
    scenario = load_scenario(lesson)
    questions = scenario.model.questions
    assert len(questions) == len(ANSWERS[lesson]) >= 1
    seen = " ".join(scenario.model.description.split())
    for question, answer in zip(questions, ANSWERS[lesson]):
        if question.choices:
            assert str(answer) in question.choices
        for form in shown_forms(answer):
            assert not form.search(seen), f"{lesson}: {answer!r} is in its description"
            assert not form.search(scenario.name), f"{lesson}: {answer!r} is in its title"


def test_no_answer_on_the_list_lines() -> None:
    listing = run_cli("list")
    assert listing.returncode == 0, listing.stderr
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()}
    for lesson, answers in ANSWERS.items():
        shown = lines[lesson].split(None, 1)[1]
        for answer in answers:
            assert not any(f.search(shown) for f in shown_forms(answer)), (lesson, shown)


def test_a_planted_answer_is_caught() -> None:
    """The check above can fail: the old descriptions gave these answers away."""
    def found(text: str, answer: object) -> bool:
        return any(f.search(text) for f in shown_forms(answer))

    assert found("so after the unblock it receives 1 (see received/sent)", 1)
    assert found("the pipe's 64 KiB by 5 s", 65536)
    assert not found("SIGUSR1 and SIGRTMIN+1, from 1.0 s, speed 1/16", 1)
    assert found('lock_a stays "held by a (dead)"', "a (dead)")


def _spin(stop: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    while not stop.is_set():
        pass


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS)
def test_the_answer_is_the_same_under_load(lesson: str, nothing_left_behind) -> None:
    """The table's answers graded right by `ipcviz quiz` on a real run while two
    process spins on a CPU: an answer that moved with the machine's load fails."""
    if lesson in NEEDS and NEEDS[lesson]():
        pytest.skip(NEEDS[lesson]())
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=_spin, args=(stop,))]
    for hog in hogs:
        hog.start()
    try:
        given = ",".join(str(a) for a in ANSWERS[lesson])
        result = run_cli("quiz", lesson, "--headless", "--answers", given, timeout=90)
    finally:
        stop.set()
        for hog in hogs:
            hog.join(5)
    assert result.returncode == 0, result.stdout + result.stderr
    count = len(ANSWERS[lesson])
    assert f"{count} of {count} right" in result.stdout
