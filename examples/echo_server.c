/* A fork-per-client TCP echo server. Each client's handler echoes every line back and
 * also sends it down a pipe to one storing child, which appends it to a file. SIGCHLD is
 * caught and every ended handler reaped with waitpid(-1, WNOHANG), so no zombie stays.
 * Usage: echo_server [PORT] [STORE_FILE]   (port 0: any; prints "ready port N") */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t reaped;

static void on_sigchld(int sig) {
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) reaped++;
    errno = saved;
}

static void store(int rfd, const char *path) {
    FILE *out = fopen(path, "a");
    if (!out) { perror(path); _exit(1); }
    char buf[4096];
    ssize_t n;
    while ((n = read(rfd, buf, sizeof buf)) > 0) { fwrite(buf, 1, n, out); fflush(out); }
    fclose(out);
    _exit(0);
}

static void serve(int conn, int wfd) {
    char buf[4096];
    ssize_t n;
    while ((n = read(conn, buf, sizeof buf)) > 0) {
        if (write(conn, buf, n) != n) break;
        if (write(wfd, buf, n) != n) break;
    }
    _exit(0);
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    const char *path = argc > 2 ? argv[2] : "echo_store.txt";
    int pipefd[2];
    if (pipe(pipefd) < 0) { perror("pipe"); return 1; }
    pid_t storer = fork();
    if (storer == 0) { close(pipefd[1]); store(pipefd[0], path); }
    close(pipefd[0]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    int lsock = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (bind(lsock, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lsock, 16) < 0) {
        perror("bind/listen");
        return 1;
    }
    getsockname(lsock, (struct sockaddr *)&addr, &len);
    printf("ready port %d storer %d\n", ntohs(addr.sin_port), storer);
    fflush(stdout);
    for (;;) {
        int conn = accept(lsock, NULL, NULL);
        if (conn < 0) { if (errno == EINTR) continue; perror("accept"); break; }
        pid_t handler = fork();
        if (handler == 0) { close(lsock); serve(conn, pipefd[1]); }
        close(conn);
        printf("client handled by %d (reaped so far %d)\n", handler, (int)reaped);
        fflush(stdout);
    }
    return 0;
}
