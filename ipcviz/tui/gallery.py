"""The scenario gallery: for each bundled scenario, the moment that shows its lesson.

`ipcviz screenshot --all -o screenshots` captures every entry (SVG, and PNG when a
converter is installed); README's gallery shows them with these sentences.
"""

from __future__ import annotations

from typing import NamedTuple


class Moment(NamedTuple):
    at: float
    keys: tuple[str, ...]
    caption: str


GALLERY: dict[str, Moment] = {
    "signals_handlers": Moment(3.2, (), "Handlers ran and the workers carried on: stubborn "
                               "logged SIGINT and SIGTERM, counter has all 20 SIGUSR1."),
    "signals_coalescing": Moment(2.0, (), "50 SIGUSR1 and 50 SIGRTMIN+1 sent while blocked: "
                                 "the kernel's pending masks, and why received ≠ sent."),
    "sigchld_zombies": Moment(3.0, (), "lazy never waits: its children stay zombies; careful "
                              "reaps in its SIGCHLD handler: none left."),
    "sigaction_flags": Moment(4.2, (), "Without SA_RESTART each handler run ended plain's "
                              "read with EINTR; with it the kernel restarted restarter's. "
                              "SA_RESETHAND: oneshot's second SIGUSR1 killed it."),
    "pipe_oneway": Moment(4.5, (), "Bytes wait in the pipe's kernel buffer until the slow "
                          "consumer reads them."),
    "pipe_two_way": Moment(1.0, (), "One pipe per direction: exact byte counts both ways, "
                           "nobody reads their own message."),
    "pipe_bidirectional_race": Moment(1.2, (), "One pipe used both ways: each worker reads "
                                      "its OWN message back."),
    "pipe_backpressure": Moment(2.2, (), "The buffer is full: both writers are blocked on "
                                "write (back-pressure)."),
    "fifo_unrelated": Moment(1.0, (), "A FIFO is a path: two workers that share nothing "
                             "else talk through it."),
    "fifo_both_ways": Moment(1.5, (), "One FIFO used both ways: each worker reads its OWN "
                             "words back; a named pipe is one byte stream too."),
    "pipe_eof_never": Moment(2.5, (), "The writer is gone but the reader hangs: it holds "
                             "the last write end itself, so EOF cannot come."),
    "shell_pipeline": Moment(1.0, (), "One pipe, two real programs: ls's descriptor 1 and "
                             "grep's 0 are its two ends (the same inode); 79 bytes "
                             "through it, 4 lines printed."),
    "mailbox_indirect": Moment(2.0, (), "Two senders, two receivers, one mailbox: each "
                               "message went to whichever receiver asked."),
    "counting_semaphore": Moment(0.6, (), "A semaphore of 3: three guests inside, five "
                                 "waiting in the kernel; beside it a mutex lets one in."),
    "nonblocking_receive": Moment(2.5, (), "A blocking receive sleeps in the kernel (no CPU, "
                                  "never back empty); a non-blocking one polls: thousands "
                                  "of EAGAINs for the same 3 messages."),
    "mqueue_bounded": Moment(2.4, (), "The producer was killed, its 5 messages stay in the "
                             "kernel's queue; urgent is blocked on send."),
    "sysv_message_types": Moment(1.5, (), "msgrcv by type: urgent asked for type 2 and took "
                                 "both urgent messages from behind the routine ones, which "
                                 "stay queued (ipcs -q lists the queue)."),
    "queue_capacity": Moment(1.5, (), "Rendezvous, bounded and unbounded queues under the "
                             "same load."),
    "socket_echo": Moment(0.8, (), "TCP and Unix-domain echo servers, connections counted "
                          "from the kernel's tables."),
    "tcp_handshake": Moment(1.6, (), "The server sleeps before accept(): the kernel has done "
                             "every handshake and the connections wait in its accept "
                             "queue, clients blocked on their first read."),
    "udp_vs_tcp": Moment(2.5, (), "200 messages of 12 bytes: TCP merged them into one read; "
                         "UDP kept each datagram and dropped what did not fit."),
    "message_duplication": Moment(4.0, (), "No ack in time: the sender sends again, and the "
                                  "worker receives duplicates."),
    "echo_store_server": Moment(1.2, (), "A handler per client, a pipe to the storer, a "
                                "mapped file; SIGCHLD reaps the handlers."),
    "shm_numpy": Moment(2.5, (), "The child added 1 to element 0 of a shared numpy array; "
                        "the parent sees it."),
    "shm_lifetime": Moment(2.2, (), "maker and later have exited and note is still in "
                           "/dev/shm with its bytes; region was truncated under toucher's "
                           "mapping: its store past the end was a SIGBUS."),
    "shm_counter_race": Moment(1.2, ("l",), "One worker's lock switched off with l: lost "
                               "updates climb at once."),
    "race_by_hand": Moment(1.2, (), "Scheduled by hand: a and b both loaded 0, both "
                           "stored 1: one update lost, on real shared memory."),
    "deadlock_by_hand": Moment(1.0, (), "Scheduled by hand: a holds x and waits for y, b "
                               "holds y and waits for x: the cycle is named."),
    "shm_signal_notify": Moment(2.5, (), "Write, signal, read, in that order in the event "
                                "log."),
    "deadlock": Moment(3.5, (), "The deadlock was named when it formed; a was killed and its "
                       "lock stays held by a dead worker."),
    "fork_address_spaces": Moment(3.5, (), "After fork, x is at one virtual address in "
                                  "both processes; the child's write gave it a frame of "
                                  "its own (copy-on-write): forker still reads red. y "
                                  "(MAP_SHARED) is one frame: both read blue."),
    "mmap_window": Moment(2.0, (), "A 256 MiB sparse file, 1 MiB of it mapped: the "
                          "pages touched so far, and exactly that many resident (smaps "
                          "Rss), whatever the file's size."),
    "mmap_file": Moment(1.5, (), "A file mapped by two workers: the bytes as hex and text, "
                        "written by one, seen by the other."),
    "file_handoff": Moment(0.9, (), "Without flock the reader caught records half written "
                           "(torn reads); with flock it waits for the writer and never tears."),
    "rpc_call": Moment(5.5, (), "A call timed out and was sent again: the server had "
                       "already done it, so it did the work twice (at-least-once)."),
    "syscall_cost": Moment(2.0, (), "Counted by the kernel: two system calls copy each "
                           "message through a pipe, a socket or a queue, none through "
                           "shared memory, whose semaphores cost futex calls instead."),
    "speed_race": Moment(3.0, (), "Five mechanisms at once: shared memory delivers several "
                         "times more bytes than a pipe, a socket or a message queue."),
}
