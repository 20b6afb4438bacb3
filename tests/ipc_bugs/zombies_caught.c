/* Three children exit at once; the parent catches SIGCHLD with a handler that does not
   reap them, then sleeps. */
#include <signal.h>
#include <unistd.h>

static void on_child(int sig) { (void)sig; }

int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_child;
    sigaction(SIGCHLD, &sa, NULL);
    for (int i = 0; i < 3; i++)
        if (fork() == 0) _exit(0);
    for (int i = 0; i < 60; i++) sleep(1);
    return 0;
}
