/* One pipe used both ways (the race) against two pipes, one per direction.
 * Usage: pipes one|two [ROUNDS]
 * With one pipe, parent and child both write then read the same pipe: each can read back
 * its own message ("self read"). With two pipes every message reaches the other side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LEN 8

static int talk(const char *who, const char *mine, int wfd, int rfd, int rounds) {
    int self_reads = 0;
    char buf[LEN + 1] = {0};
    for (int r = 0; r < rounds; r++) {
        if (write(wfd, mine, LEN) != LEN) break;
        if (read(rfd, buf, LEN) != LEN) break;
        if (memcmp(buf, mine, LEN) == 0) self_reads++;
        usleep(1000);
    }
    printf("%s: %d of %d reads were its own message\n", who, self_reads, rounds);
    fflush(stdout);
    return self_reads;
}

int main(int argc, char **argv) {
    int two = argc > 1 && strcmp(argv[1], "two") == 0;
    int rounds = argc > 2 ? atoi(argv[2]) : 1000;
    int down[2], up[2];
    if (pipe(down) < 0) { perror("pipe"); return 1; }
    if (two) { if (pipe(up) < 0) { perror("pipe"); return 1; } }
    else { up[0] = down[0]; up[1] = down[1]; }
    pid_t child = fork();
    if (child == 0) {   /* reads down, writes up */
        talk("child ", "CHILD!!!", up[1], down[0], rounds);
        _exit(0);
    }
    talk("parent", "PARENT!!", down[1], up[0], rounds);
    waitpid(child, NULL, 0);
    return 0;
}
