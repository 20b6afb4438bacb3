/* Forks 5 children that exit at once, and never waits for them: 5 zombies.
 * Usage: fork_zombies [SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int seconds = argc > 1 ? atoi(argv[1]) : 60;
    for (int i = 0; i < 5; i++) {
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) _exit(i);
        printf("forked %d\n", pid);
    }
    printf("ready\n");
    fflush(stdout);
    sleep(seconds);   /* no wait(): each child stays a zombie until we exit */
    return 0;
}
