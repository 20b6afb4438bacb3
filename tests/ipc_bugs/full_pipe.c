/* A writer blocked on a full pipe while its reader sleeps instead of reading. */
#include <string.h>
#include <unistd.h>

int main(void) {
    int fds[2];
    static char block[1 << 20];
    if (pipe(fds) != 0) return 1;
    if (fork() == 0) {
        close(fds[1]);
        sleep(60);  /* the bug: it should be reading */
        _exit(0);
    }
    close(fds[0]);
    memset(block, 'x', sizeof block);
    return write(fds[1], block, sizeof block) < 0;
}
