/* The classic pipe bug in C: the child reads until end-of-file but never closed its
   own copy of the write end; the parent waits for it forever. */
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int fds[2];
    char buf[4096];
    if (pipe(fds) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        while (read(fds[0], buf, sizeof buf) > 0) {}  /* the bug: close(fds[1]) missing */
        _exit(0);
    }
    close(fds[0]);
    if (write(fds[1], "hello\n", 6) != 6) return 1;
    close(fds[1]);
    waitpid(pid, NULL, 0);
    return 0;
}
