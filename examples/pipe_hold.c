/* Writes 1,000 bytes into a pipe and sleeps: the bytes stay in the kernel's buffer.
 * The child holds the read end (and never reads), the parent the write end.
 * Usage: pipe_hold [SECONDS]   (prints "ready" once the bytes are written) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int seconds = argc > 1 ? atoi(argv[1]) : 60;
    int fds[2], sync[2];
    if (pipe(fds) < 0 || pipe(sync) < 0) { perror("pipe"); return 1; }
    pid_t child = fork();
    if (child < 0) { perror("fork"); return 1; }
    if (child == 0) {            /* reader that does not read */
        close(fds[1]);
        close(sync[0]);
        close(sync[1]);          /* tells the parent the write end is closed here */
        sleep(seconds);
        _exit(0);
    }
    close(fds[0]);
    close(sync[1]);
    char byte;
    while (read(sync[0], &byte, 1) > 0) {}   /* EOF once the child has closed its ends */
    close(sync[0]);
    char data[1000];
    memset(data, 'x', sizeof data);
    if (write(fds[1], data, sizeof data) != (ssize_t)sizeof data) { perror("write"); return 1; }
    printf("ready writer %d reader %d\n", getpid(), child);
    fflush(stdout);
    sleep(seconds);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    return 0;
}
