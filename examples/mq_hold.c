/* Sends COUNT messages to a new POSIX message queue and sleeps: they wait in the queue.
 * Usage: mq_hold /NAME [COUNT] [SECONDS]   (the queue is unlinked at the end) */
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "/ipcviz_example_mq";
    int count = argc > 2 ? atoi(argv[2]) : 3;
    int seconds = argc > 3 ? atoi(argv[3]) : 60;
    struct mq_attr attr = {.mq_maxmsg = 8, .mq_msgsize = 64};
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_WRONLY, 0600, &attr);
    if (q == (mqd_t)-1) { perror("mq_open"); return 1; }
    for (int i = 0; i < count; i++) {
        char msg[32];
        int len = snprintf(msg, sizeof msg, "message %d", i);
        if (mq_send(q, msg, len, 0) < 0) { perror("mq_send"); break; }
    }
    printf("ready\n");
    fflush(stdout);
    sleep(seconds);
    mq_close(q);
    mq_unlink(name);
    return 0;
}
