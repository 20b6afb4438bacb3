/* The classic handler loop: SIGINT is counted and printed, SIGTERM prints the totals and
 * ends the program. The handlers only set flags; the loop does the printing. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t interrupts, terminate;

static void on_signal(int sig) {
    if (sig == SIGINT) interrupts++;
    else terminate = 1;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    printf("ready pid %d: Ctrl-C counts, SIGTERM ends\n", getpid());
    fflush(stdout);
    int shown = 0;
    while (!terminate) {
        pause();
        if (interrupts != shown) {
            shown = interrupts;
            printf("SIGINT %d\n", shown);
            fflush(stdout);
        }
    }
    printf("SIGTERM: ending after %d SIGINT\n", (int)interrupts);
    return 0;
}
