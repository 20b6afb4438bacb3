/* Two processes each write a megabyte to the other before reading: both pipes fill up
   and each waits for the other to read, forever. */
#include <string.h>
#include <unistd.h>

static char block[1 << 20];

int main(void) {
    int to_child[2], to_parent[2];
    if (pipe(to_child) != 0 || pipe(to_parent) != 0) return 1;
    memset(block, 'x', sizeof block);
    if (fork() == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        if (write(to_parent[1], block, sizeof block) < 0) _exit(1);
        if (read(to_child[0], block, sizeof block) < 0) _exit(1);
        _exit(0);
    }
    close(to_child[0]);
    close(to_parent[1]);
    if (write(to_child[1], block, sizeof block) < 0) return 1;
    return read(to_parent[0], block, sizeof block) < 0;
}
