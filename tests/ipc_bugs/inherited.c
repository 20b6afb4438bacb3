/* A helper program started with exec inherits the write end of a pipe (pipe() sets no
   close-on-exec) and sleeps; the reader waits for end-of-file until it exits. */
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int fds[2];
    char buf[4096];
    if (pipe(fds) != 0) return 1;
    pid_t reader = fork();
    if (reader == 0) {
        close(fds[1]);
        while (read(fds[0], buf, sizeof buf) > 0) {}
        _exit(0);
    }
    close(fds[0]);
    if (fork() == 0) {  /* the leak: fds[1] is not closed before exec */
        execlp("sleep", "sleep", "60", (char *)NULL);
        _exit(127);
    }
    if (write(fds[1], "done\n", 5) != 5) return 1;
    close(fds[1]);
    waitpid(reader, NULL, 0);
    return 0;
}
