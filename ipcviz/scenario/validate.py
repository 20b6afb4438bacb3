"""Checks that need the whole scenario: references between workers, channels and steps."""

from __future__ import annotations

from collections.abc import Iterator

from ipcviz.channels.message import HEADER_SIZE
from ipcviz.scenario import resources
from ipcviz.scenario import schema as s
from ipcviz.scenario.kinds import CHANNELS, COMPARED_FAMILIES, STEPS, channel_class
from ipcviz.signals import PARENT_SIGNALS, SIGRTMAX, SIGRTMIN, UNCATCHABLE, signal_name

from ipcviz.scenario.channel_env import check_env_names
from ipcviz.scenario.result_line import check_result
from ipcviz.scenario.vary import check_vary
from ipcviz.scenario.expectations import check_expect, check_question
from ipcviz.scenario.keeps import check_keeps
from ipcviz.scenario.keys import canonical_key, key_problem
from ipcviz.scenario.programs import check_programs, check_signal_steps
from ipcviz.scenario.shm_checks import check_shm_objects
from ipcviz.scenario.sigaction_checks import check_sigaction
from ipcviz.scenario.fields import dtype_problem
from ipcviz.scenario.refs import Unsure, instance_names
from ipcviz.scenario.timing import check_time
from ipcviz.scenario.yamlpos import FieldPath

PARENT_SIGNALS_TEXT = ", ".join(
    signal_name(n) for n in sorted(PARENT_SIGNALS) if not SIGRTMIN <= n <= SIGRTMAX
) + " and SIGRTMIN..SIGRTMAX"
CATCHING = frozenset({"count", "exit", "log", "reap"})

Problems = Iterator[tuple[FieldPath, str]]


class Refs:
    """What a reference to a channel or a worker may name in one scenario; names in
    `unsure` are declared but their definitions did not validate, so references to them
    pass."""

    def __init__(self, scn: s.Scenario, unsure: Unsure) -> None:
        self.scn = scn
        self.unsure = unsure
        self.groups = {name: instance_names(name, w) for name, w in scn.workers.items()}
        self.targets = set(self.groups) | {n for names in self.groups.values() for n in names}

    def channel(self, path: FieldPath, name: str, step: str) -> Problems:
        """`name` is a channel that the step `step` works on."""
        if name not in self.scn.channels:
            kind = self.unsure.channel_kinds.get(name)
            if kind is None:
                if self.unsure.channel(name):
                    return
                known = ", ".join(self.unsure.declared(self.scn.channels, False)) or "none defined"
                yield (path, f"unknown channel '{name}' (channels: {known})")
                return
        else:
            kind = self.scn.channels[name].kind
        works_on = STEPS[step].channels
        if kind not in works_on:
            yield (path, f"'{step}' does not work on {kind} '{name}' "
                         f"(use {CHANNELS[kind].hint}; '{step}' is for {', '.join(works_on)})")

    def target(self, path: FieldPath, name: str, allow_parent: bool) -> Problems:
        """`name` is a worker (or its process), or `parent` where the runtime may be meant."""
        if name in self.targets or (allow_parent and name == "parent") or self.unsure.worker(name):
            return
        known = ", ".join(self.unsure.declared(sorted(self.targets), True))
        known += ", parent" if allow_parent else ""
        yield (path, f"unknown worker '{name}' (workers: {known})")


def check(scn: s.Scenario, unsure: Unsure | None = None) -> Problems:
    """Yield (path, message) for every cross-reference problem; names in `unsure` are
    declared but their definitions did not validate, so references to them pass."""
    unsure = unsure or Unsure()
    refs = Refs(scn, unsure)
    total = sum(w.count for w in scn.workers.values())
    if total > s.MAX_WORKERS:
        yield (("workers",), f"{total} worker processes in all; the limit is {s.MAX_WORKERS}")
    if not scn.workers and not (unsure.workers or unsure.all_workers):
        yield (("workers",), "needs at least one worker")
    yield from resources.check_mqueue_limits(scn.channels)
    yield from check_env_names(scn)
    yield from resources.descriptor_budget(scn.channels)
    yield from _check_channels(scn, unsure)
    yield from _check_workers(scn, refs)
    yield from check_programs(scn)
    yield from check_keeps(scn, unsure)
    yield from check_signal_steps(scn)
    yield from check_sigaction(scn)
    yield from check_shm_objects(scn)
    yield from _check_rpc_sides(scn)
    yield from _check_events(scn, refs)
    for i, exp in enumerate(scn.expect):
        yield from check_expect(scn, refs.groups, (("expect", i)), exp, unsure)
    for i, question in enumerate(scn.questions):
        yield from check_question(scn, refs.groups, ("questions", i), question, unsure)
    yield from check_time(scn, refs.groups, unsure)
    yield from _check_compare(scn, unsure)
    yield from check_result(scn, refs.groups, unsure)
    yield from check_vary(scn, refs.groups, unsure)


def _check_channels(scn: s.Scenario, unsure: Unsure) -> Problems:
    """Each channel entry as a whole (its kind's own `problems`), and the worker its
    kind's server option names."""
    for cname, ch in scn.channels.items():
        server_option = CHANNELS[ch.kind].server_option  # a socket's `server:`
        if server_option and getattr(ch, server_option) not in scn.workers and \
                not unsure.worker(getattr(ch, server_option)):
            yield (("channels", cname, server_option),
                   f"unknown worker '{getattr(ch, server_option)}' "
                   f"(workers: {', '.join(unsure.declared(scn.workers, True))})")
        for field, problem in ch.problems():
            yield (("channels", cname) + field, problem)


def _check_workers(scn: s.Scenario, refs: Refs) -> Problems:
    """Each worker's name, handlers, blocked signals, loop and steps."""
    if "parent" in scn.workers:
        yield (("workers", "parent"), "the name 'parent' is reserved (`to: parent` means the "
                                      "runtime); call this worker something else")
    for wname, w in scn.workers.items():
        base: FieldPath = ("workers", wname)
        caught = {sig for sig, action in w.handlers.items() if action in CATCHING}
        for sig, spellings in w._handler_spellings.items():
            yield (base + ("handlers", spellings[1]),
                   f"{signal_name(sig)} is given {len(spellings)} times "
                   f"({', '.join(spellings)}): one handler per signal")
        for sig, action in w.handlers.items():
            if sig in UNCATCHABLE:
                yield (base + ("handlers", signal_name(sig)), f"{signal_name(sig)} cannot be caught, blocked "
                                                  "or ignored (that is the lesson)")
            if action == "reap" and signal_name(sig) != "SIGCHLD":
                yield (base + ("handlers", signal_name(sig)), "'reap' is a SIGCHLD handler")
        for i, sig in enumerate(w.block):
            if sig in UNCATCHABLE:
                yield (base + ("block", i), f"{signal_name(sig)} cannot be blocked")
        if w.loop is not False and w.loop != 0 and w.steps and not performs_operation(w.steps):
            yield (base + ("loop",), SPINS)
        yield from _check_steps(w.steps, base + ("steps",), scn, caught, refs,
                                handlers_known=wname not in refs.unsure.workers)


def _check_events(scn: s.Scenario, refs: Refs) -> Problems:
    """The timeline's and the triggers' targets, and each trigger's key used once."""
    for section in ("timeline", "triggers"):
        for i, event in enumerate(getattr(scn, section)):
            path: FieldPath = (section, i)
            action = event.action
            arg = getattr(event, action)
            if action == "signal":
                yield from refs.target(path + ("signal", "to"), arg.to, False)
            elif action == "lock":
                yield from refs.target(path + ("lock", "worker"), arg.worker, False)
            else:
                yield from refs.target(path + (action,), arg, False)
    seen_keys: dict[str, int] = {}
    for i, trig in enumerate(scn.triggers):
        problem = key_problem(trig.key)
        name = canonical_key(trig.key)
        if problem:
            yield (("triggers", i, "key"), problem)
        elif name in seen_keys:
            yield (("triggers", i, "key"), f"key '{trig.key}' is already used by "
                                           f"triggers[{seen_keys[name]}]")
        seen_keys.setdefault(name, i)


def _check_compare(scn: s.Scenario, unsure: Unsure) -> Iterator[tuple[FieldPath, str]]:
    """`compare` names channels that carry bytes or messages, each once."""
    seen: set[str] = set()
    for i, name in enumerate(scn.compare):
        if name in seen:
            yield (("compare", i), f"'{name}' is already compared")
            continue
        seen.add(name)
        if name not in scn.channels:
            if not unsure.channel(name):
                known = ", ".join(unsure.declared(scn.channels, False)) or "none defined"
                yield (("compare", i), f"unknown channel '{name}' (channels: {known})")
        elif CHANNELS[scn.channels[name].kind].counters not in COMPARED_FAMILIES:
            yield (("compare", i), f"{scn.channels[name].kind} '{name}' moves no bytes to "
                                   "compare (compare pipes, FIFOs, sockets, queues, "
                                   "mappings, files)")
    if scn.count_syscalls and not scn.compare:
        yield (("count_syscalls",), "counts the system calls of compared channels: name "
                                    "them in `compare:`")


def _check_steps(steps: list, base: FieldPath, scn: s.Scenario, caught: set[int], refs: Refs,
                 handlers_known: bool) -> Problems:
    """Each step: the channels and workers it names, and what its kind asks of them."""
    unsure = refs.unsure
    for j, step in enumerate(steps):
        path = base + (j,)
        kind = step.kind
        arg = step.args
        here = path + (kind,)
        for use, name in STEPS[kind].channel_names(arg):  # the channels it names
            if use.checked_as is not None:
                where = here if use.field is None else here + (use.field.rstrip("_"),)
                yield from refs.channel(where, name, use.checked_as or kind)
            ch = scn.channels.get(name)
            if use.checked_as == "" and ch is not None and ch.kind in STEPS[kind].channels:
                for field, problem in channel_class(ch.kind).step_problems(kind, arg):
                    yield (here + field, problem)
        if kind == "send":
            yield from _check_send(scn, arg, here, unsure)
        elif kind == "write" and arg.from_read is not None:
            yield from _check_from_read(scn, base, arg.from_read, here + ("from_read",), unsure)
        elif kind in ("increment", "set"):
            yield from _check_index(scn, arg, here, kind)
        elif kind == "signal":
            yield from refs.target(here + ("to",), arg.to, True)
            if arg.to == "parent" and arg.sig not in PARENT_SIGNALS:
                yield (here + ("sig",), f"{signal_name(arg.sig)} would stop or end the runtime; "
                                        f"parent accepts {PARENT_SIGNALS_TEXT}")
        elif kind == "wait_signal":
            if arg not in caught and handlers_known:
                yield (here, f"waits for {signal_name(arg)}, but the worker's handlers do not "
                             f"catch it (add `{signal_name(arg)}: count` to handlers)")
        elif kind in ("block", "unblock"):
            for k, sig in enumerate(arg):
                if sig in UNCATCHABLE:
                    yield (here + (k,), f"{signal_name(sig)} cannot be blocked")
        elif kind == "spawn":
            if unsure.worker(arg):
                pass  # its definition did not validate: whether it is spawned is unknown
            elif arg not in scn.workers:
                yield (here, f"unknown worker '{arg}' "
                             f"(workers: {', '.join(unsure.declared(scn.workers, True))})")
            elif not scn.workers[arg].spawned:
                yield (here, f"worker '{arg}' is started by the runtime; "
                             f"give it `spawned: true` to spawn it")
        elif kind == "repeat":
            if arg.times != 0 and arg.steps and not performs_operation(arg.steps):
                yield (here + ("steps",), SPINS)
            yield from _check_steps(arg.steps, here + ("steps",), scn, caught, refs,
                                    handlers_known)


#: a loop whose steps perform no operation (only `repeat`s of 0 times)
SPINS = ("these steps perform no operation (each is a repeat of 0 times): looped, they "
         "would spin at full speed with no step boundary, where no pause holds them")


def performs_operation(steps: list) -> bool:
    """Some step performs an operation when the steps run: a step that is not a
    `repeat`, or a repeat that runs its steps at least once and they do."""
    return any(step.kind != "repeat" or (step.args.times != 0
                                          and performs_operation(step.args.steps))
               for step in steps)


def _check_from_read(scn, base, channel, here, unsure):
    """`write: {from_read: C}`: C is a pipe, FIFO or socket this worker reads (or echoes)."""
    if unsure.channel(channel):
        return
    ch = scn.channels.get(channel)
    if ch is None:
        yield (here, f"unknown channel '{channel}' "
                     f"(channels: {', '.join(unsure.declared(scn.channels, False))})")
        return
    if ch.kind not in ("pipe", "fifo", "socket"):
        yield (here, f"from_read needs a pipe, fifo or socket, not the {ch.kind} '{channel}'")
        return
    worker = scn.workers.get(base[1]) if len(base) > 1 else None
    if worker is None:
        return
    reads = {st.args.from_ if st.kind == "read" else st.args.on
             for st in s.all_steps(worker.steps) if st.kind in ("read", "echo")}
    if channel not in reads:
        yield (here, f"this worker never reads '{channel}' (add a read or echo step on it)")


def _check_send(scn, arg, here, unsure):
    ch = scn.channels.get(arg.to)
    if arg.ack is not None and not unsure.channel(arg.ack):
        if arg.ack not in scn.channels or scn.channels[arg.ack].kind not in ("mqueue", "queue"):
            # (not a sysv_queue: an acknowledgement waits with a timeout msgrcv lacks)
            yield (here + ("ack",), f"ack needs an mqueue or queue channel, not '{arg.ack}'")
    if ch is None:
        return
    size = len(arg.payload_bytes())
    if ch.kind == "mqueue" and size + HEADER_SIZE > ch.message_size:
        yield (here, f"a {size}-byte message (+{HEADER_SIZE} header) does not fit "
                     f"message_size {ch.message_size} of '{arg.to}'")
    if ch.kind == "queue" and ch.capacity == 0 and not arg.block:
        yield (here + ("block",), "a rendezvous queue (capacity 0) always waits for the "
                                  "receiver; block: false is not possible on it")


def _check_index(scn, arg, here, kind):
    ch = scn.channels.get(arg.array)
    if ch is None or ch.kind != "shared_array":
        return
    shape = ch.dims
    if kind == "set":
        problem = dtype_problem(ch.dtype, arg.value)
        if problem:
            yield (here + ("value",), problem)
    if arg.index is None or ch.bad_shape:
        return
    index = arg.index if isinstance(arg.index, list) else [arg.index]
    if len(index) != len(shape):
        yield (here + ("index",), f"{len(index)} indices for a {len(shape)}-D array {shape}")
        return
    for k, (i, n) in enumerate(zip(index, shape)):
        if not 0 <= i < n:
            yield (here + ("index",), f"index {i} is out of range 0..{n - 1} (dimension {k})")


def _check_rpc_sides(scn: s.Scenario) -> Iterator[tuple[FieldPath, str]]:
    """On an rpc channel only its server `serve`s, and its server does not `call` it."""
    servers = {name: ch.server for name, ch in scn.channels.items() if ch.kind == "rpc"}
    if not servers:
        return

    def walk(steps: list, path: FieldPath, wname: str) -> Iterator[tuple[FieldPath, str]]:
        for i, st in enumerate(steps):
            if st.kind == "repeat":
                yield from walk(st.args.steps, path + (i, "repeat", "steps"), wname)
            elif st.kind == "serve" and st.args in servers and servers[st.args] != wname:
                yield (path + (i, "serve"), f"only '{servers[st.args]}', the server of "
                                            f"'{st.args}', serves it")
            elif st.kind == "call" and servers.get(st.args.on) == wname:
                yield (path + (i, "call", "on"), f"'{wname}' is the server of "
                                                 f"'{st.args.on}': it cannot call itself")

    for wname, w in scn.workers.items():
        yield from walk(w.steps, ("workers", wname, "steps"), wname)
