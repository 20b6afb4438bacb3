/* A parent creates a 40-byte POSIX shared-memory array (5 int64) with shm_open + mmap;
 * its child adds 1 to every element ten times a second; the parent prints the array.
 * Usage: shm_array [/NAME] [ROUNDS]   (the parent unlinks the segment at the end) */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N 5

static void nap(double seconds) {
    struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "/ipcviz_example_shm";
    int rounds = argc > 2 ? atoi(argv[2]) : 100;
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) { perror("shm_open"); return 1; }
    if (ftruncate(fd, N * sizeof(int64_t)) < 0) { perror("ftruncate"); shm_unlink(name); return 1; }
    int64_t *array = mmap(NULL, N * sizeof(int64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (array == MAP_FAILED) { perror("mmap"); shm_unlink(name); return 1; }
    for (int i = 0; i < N; i++) array[i] = i;
    pid_t child = fork();
    if (child == 0) {
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < N; i++) array[i] += 1;
            nap(0.1);
        }
        _exit(0);
    }
    printf("ready parent %d child %d\n", getpid(), child);
    fflush(stdout);
    int status;
    while (waitpid(child, &status, WNOHANG) == 0) {
        printf("%lld %lld %lld %lld %lld\n", (long long)array[0], (long long)array[1],
               (long long)array[2], (long long)array[3], (long long)array[4]);
        fflush(stdout);
        nap(0.5);
    }
    munmap(array, N * sizeof(int64_t));
    shm_unlink(name);
    return 0;
}
