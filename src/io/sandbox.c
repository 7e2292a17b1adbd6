/* SPDX-License-Identifier: Apache-2.0 */
/* The child process that reads one untrusted file (see sandbox.h). Protocol on the pipe, child
 * to parent: records of {u64 type, u64 length, bytes}: PROGRESS {stage[32], u64 done, u64
 * total}, CHECKED {}, RESULT {i64 status, u64 shared bytes, u64 message length, message,
 * payload}. The parent never trusts the reply: every length is checked before use. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "io/h5_lock.h"
#include "io/sandbox.h"

/* AddressSanitizer reserves terabytes of shadow memory: an address-space limit breaks it. */
#if defined(__SANITIZE_ADDRESS__)
#define SB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_ASAN 1
#endif
#endif
#ifndef SB_ASAN
#define SB_ASAN 0
#endif

/* Defaults (environment overrides in parentheses, documented in docs/security.md). */
/* No progress for this long, plus 10 s per GiB of file, is a hang (ASSAY_SANDBOX_TIMEOUT). */
#define DEFAULT_TIMEOUT_S 30.0
#define DEFAULT_CPU_S     600 /* CPU seconds, plus 60 per GiB of file (ASSAY_SANDBOX_CPU) */
/* Address space: physical memory + 1 GiB (ASSAY_SANDBOX_MEMORY, MiB): the data is loaded into
 * memory anyway, so a larger budget could never succeed; a smaller one would refuse data that
 * the unsandboxed reader loads. */

enum { REC_PROGRESS = 1, REC_CHECKED = 2, REC_RESULT = 3 };
enum { FD_PIPE = 3, FD_MEM = 4 }; /* where the child keeps its two descriptors */
#define STAGE_LEN 32

struct assay__sandbox {
    int fd;
    size_t mem_cap;
    int mem_on_disk; /* the shared region is a scratch file (--memory-limit), not a memfd */
    void *shared;
    size_t shared_bytes;
    unsigned char *buf;
    size_t len, cap;
};

int assay__sandbox_enabled(const assay_ctx *ctx) {
    return !assay__limits(ctx)->no_sandbox;
}

/* ---- child ---- */

static int write_all(int fd, const void *p, size_t n) {
    const unsigned char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_record(int fd, uint64_t type, const void *a, size_t na, const void *b, size_t nb) {
    uint64_t h[2] = {type, (uint64_t)na + nb};
    return write_all(fd, h, sizeof h) || write_all(fd, a, na) || write_all(fd, b, nb) ? -1 : 0;
}

static void child_progress(void *user, const char *stage, uint64_t done, uint64_t total) {
    assay__sandbox *sb = user;
    unsigned char rec[STAGE_LEN + 16];
    memset(rec, 0, sizeof rec);
    snprintf((char *)rec, STAGE_LEN, "%s", stage ? stage : "");
    memcpy(rec + STAGE_LEN, &done, 8);
    memcpy(rec + STAGE_LEN + 8, &total, 8);
    send_record(sb->fd, REC_PROGRESS, rec, sizeof rec, NULL, 0);
}

void assay__sandbox_sizes_checked(assay__sandbox *sb) {
    if (sb != NULL) send_record(sb->fd, REC_CHECKED, NULL, 0, NULL, 0);
}

void *assay__sandbox_shared(assay__sandbox *sb, size_t bytes) {
    if (sb == NULL || sb->shared != NULL || bytes == 0) return NULL;
    if (bytes > sb->mem_cap) {
        /* beyond the caller's file-size limit, which capped the region */
        errno = sb->mem_on_disk ? EFBIG : ENOMEM;
        return NULL;
    }
    /* On disk the blocks are allocated first: a full disk is then an error here, not a SIGBUS
     * while writing the mapping. */
    if (sb->mem_on_disk && (errno = posix_fallocate(FD_MEM, 0, (off_t)bytes)) != 0) return NULL;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, FD_MEM, 0);
    if (p == MAP_FAILED) return NULL;
    sb->shared = p;
    sb->shared_bytes = bytes;
    return p;
}

void assay__sandbox_release(assay__sandbox *sb, void *p, size_t len) {
    if (sb == NULL || !sb->mem_on_disk || sb->shared == NULL || len == 0) return;
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p, b = a + len, base = (uintptr_t)sb->shared;
    if (page <= 0 || a < base || b > base + sb->shared_bytes) return;
    /* Whole pages inside the range only: the neighbouring rows may not be written yet. */
    a = (a + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    b = b / (uintptr_t)page * (uintptr_t)page;
    if (b > a) (void)madvise((void *)a, b - a, MADV_DONTNEED);
}

assay_status assay__sandbox_put(assay__sandbox *sb, const void *p, size_t n) {
    if (n > sb->cap - sb->len) {
        size_t cap = sb->cap ? sb->cap : 4096;
        while (cap - sb->len < n) {
            if (cap > SIZE_MAX / 2) return ASSAY_E_NOMEM;
            cap *= 2;
        }
        unsigned char *b = realloc(sb->buf, cap);
        if (b == NULL) return ASSAY_E_NOMEM;
        sb->buf = b;
        sb->cap = cap;
    }
    if (n > 0) memcpy(sb->buf + sb->len, p, n);
    sb->len += n;
    return ASSAY_OK;
}

assay_status assay__sandbox_put_u64(assay__sandbox *sb, uint64_t v) {
    return assay__sandbox_put(sb, &v, sizeof v);
}

assay_status assay__sandbox_put_str(assay__sandbox *sb, const char *s) {
    /* length + 1, then the bytes and a NUL; 0 stands for NULL */
    if (s == NULL) return assay__sandbox_put_u64(sb, 0);
    size_t n = strlen(s);
    ASSAY_TRY(assay__sandbox_put_u64(sb, (uint64_t)n + 1));
    return assay__sandbox_put(sb, s, n + 1);
}

/* Keeps stderr (sanitizer reports), the pipe and the memfd; stdin and stdout become /dev/null
 * (read-only), everything else the parent had open (report temp files, sockets) is closed. */
static int child_fds(int pipe_fd, int mem_fd) {
    int p = fcntl(pipe_fd, F_DUPFD, 16), m = fcntl(mem_fd, F_DUPFD, 16);
    if (p < 0 || m < 0 || dup2(p, FD_PIPE) < 0 || dup2(m, FD_MEM) < 0) return -1;
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 5u, ~0u, 0u) == 0) return 0;
#endif
    /* Older kernels: close what /proc lists (opendir allocates: fine in glibc after fork). */
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        for (int fd = 5; fd < 4096; fd++) close(fd);
        return 0;
    }
    int dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (fd >= 5 && fd != dfd) close(fd);
    }
    closedir(d);
    return 0;
}

static void set_limit(int resource, rlim_t value, rlim_t hard) {
    struct rlimit old, l;
    if (getrlimit(resource, &old) != 0) return;
    if (old.rlim_max != RLIM_INFINITY && hard > old.rlim_max) hard = old.rlim_max;
    if (value > hard) value = hard;
    l.rlim_cur = value;
    l.rlim_max = hard;
    setrlimit(resource, &l);
}

/* Virtual size of this process now, from /proc/self/statm (0 if unknown). */
static size_t vm_size(void) {
    FILE *fp = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (fp == NULL) return 0;
    if (fscanf(fp, "%lu", &pages) != 1) pages = 0;
    fclose(fp);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* ---- seccomp: no writes outside the pipe and stderr, no new files, no exec, no network ---- */

#if defined(__x86_64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef SB_AUDIT_ARCH
#define MAX_FILTER 256
typedef struct bpf_prog {
    struct sock_filter f[MAX_FILTER];
    unsigned short n;
} bpf_prog;

static void emit(bpf_prog *b, unsigned short code, unsigned char jt, unsigned char jf,
                 unsigned int k) {
    if (b->n < MAX_FILTER) b->f[b->n++] = (struct sock_filter){code, jt, jf, k};
}

/* Offset of the low 32 bits of argument i. */
static unsigned int arg_lo(int i) {
    unsigned int off = (unsigned int)offsetof(struct seccomp_data, args) + 8u * (unsigned int)i;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    off += 4;
#endif
    return off;
}

#define RET_DENY (SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA))
#define LD_NR()  emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr))
#define DENY(nr)                                                                                   \
    do {                                                                                           \
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, (nr));                                            \
        emit(b, BPF_RET | BPF_K, 0, 0, RET_DENY);                                                  \
    } while (0)
/* write-like calls: allowed on stderr and the pipe only */
#define FD_ONLY(nr)                                                                                \
    do {                                                                                           \
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 5, (nr));                                            \
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, arg_lo(0));                                        \
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 2);                                               \
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, FD_PIPE);                                         \
        emit(b, BPF_RET | BPF_K, 0, 0, RET_DENY);                                                  \
        emit(b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);                                         \
    } while (0)
/* open-like calls: read-only opens only */
#define RDONLY_OPEN(nr, flags_arg)                                                                 \
    do {                                                                                           \
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 4, (nr));                                            \
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, arg_lo(flags_arg));                                \
        emit(b, BPF_JMP | BPF_JSET | BPF_K, 0, 1,                                                  \
             (unsigned int)(O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND));                    \
        emit(b, BPF_RET | BPF_K, 0, 0, RET_DENY);                                                  \
        emit(b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);                                         \
    } while (0)
/* calls whose first argument must be one value: signals to this process only (abort() raises
 * SIGABRT with tgkill(getpid(), ...)); fallocate on the shared region's file only */
#define ARG0_ONLY(nr, value)                                                                       \
    do {                                                                                           \
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 4, (nr));                                            \
        emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, arg_lo(0));                                        \
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, (unsigned int)(value));                           \
        emit(b, BPF_RET | BPF_K, 0, 0, RET_DENY);                                                  \
        emit(b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);                                         \
    } while (0)

static int install_seccomp(void) {
    static bpf_prog prog; /* static: 2 KB off the stack */
    bpf_prog *b = &prog;
    b->n = 0;
    emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, SB_AUDIT_ARCH);
    emit(b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
    LD_NR();
#if defined(__x86_64__)
    /* x32 system calls share the arch value: refuse them all. */
    emit(b, BPF_JMP | BPF_JGE | BPF_K, 0, 1, 0x40000000u);
    emit(b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
#endif
    FD_ONLY(__NR_write);
    LD_NR();
    FD_ONLY(__NR_writev);
    LD_NR();
    FD_ONLY(__NR_pwrite64);
    LD_NR();
    FD_ONLY(__NR_pwritev);
    LD_NR();
    RDONLY_OPEN(__NR_openat, 2);
    LD_NR();
#ifdef __NR_open
    RDONLY_OPEN(__NR_open, 1);
    LD_NR();
#endif
    ARG0_ONLY(__NR_fallocate, FD_MEM);
    LD_NR();
    pid_t pid = getpid();
    ARG0_ONLY(__NR_kill, pid);
    LD_NR();
    ARG0_ONLY(__NR_tgkill, pid);
    LD_NR();
    static const int deny[] = {
#ifdef __NR_creat
        __NR_creat,
#endif
#ifdef __NR_unlink
        __NR_unlink,
#endif
#ifdef __NR_rename
        __NR_rename,
#endif
#ifdef __NR_mkdir
        __NR_mkdir,
#endif
#ifdef __NR_rmdir
        __NR_rmdir,
#endif
#ifdef __NR_link
        __NR_link,
#endif
#ifdef __NR_symlink
        __NR_symlink,
#endif
#ifdef __NR_chmod
        __NR_chmod,
#endif
#ifdef __NR_chown
        __NR_chown,
#endif
#ifdef __NR_lchown
        __NR_lchown,
#endif
#ifdef __NR_mknod
        __NR_mknod,
#endif
#ifdef __NR_openat2
        __NR_openat2,
#endif
#ifdef __NR_pwritev2
        __NR_pwritev2,
#endif
#ifdef __NR_io_uring_setup
        __NR_io_uring_setup,
#endif
        __NR_unlinkat,
        __NR_renameat,
        __NR_renameat2,
        __NR_mkdirat,
        __NR_linkat,
        __NR_symlinkat,
        __NR_fchmod,
        __NR_fchmodat,
        __NR_fchown,
        __NR_fchownat,
        __NR_mknodat,
        __NR_truncate,
        __NR_ftruncate,
        __NR_utimensat,
        __NR_setxattr,
        __NR_fsetxattr,
        __NR_lsetxattr,
        __NR_removexattr,
        __NR_fremovexattr,
        __NR_lremovexattr,
        __NR_sendfile,
        __NR_copy_file_range,
        __NR_splice,
        __NR_tee,
        __NR_vmsplice,
        __NR_socket,
        __NR_socketpair,
        __NR_connect,
        __NR_bind,
        __NR_sendto,
        __NR_sendmsg,
        __NR_execve,
        __NR_execveat,
        __NR_ptrace,
        __NR_process_vm_writev,
        __NR_process_vm_readv,
        __NR_tkill,
        __NR_mount,
        __NR_umount2,
        __NR_chroot,
        __NR_pivot_root,
        __NR_memfd_create,
        __NR_setrlimit,
        __NR_prlimit64,
        __NR_msync};
    for (size_t i = 0; i < sizeof deny / sizeof deny[0]; i++) DENY((unsigned int)deny[i]);
    emit(b, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    if (b->n >= MAX_FILTER) return -1;
    struct sock_fprog fp = {b->n, b->f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp) == 0 ? 0 : -1;
}
#else
static int install_seccomp(void) {
    return -1; /* no filter for this architecture: the resource limits still apply */
}
#endif

typedef struct sb_limits {
    double timeout_s;
    rlim_t cpu_s;
    size_t mem_bytes; /* 0: no address-space limit */
} sb_limits;

/* Test hook (tests/io/test_sandbox.c, tests/cli): makes the child misbehave after the sandbox
 * is in place, to check that the parent contains it. */
static void test_hook(void) {
    const char *t = getenv("ASSAY_TEST_SANDBOX");
    if (t == NULL) return;
    if (strcmp(t, "crash") == 0) raise(SIGSEGV);
    if (strcmp(t, "hang") == 0)
        for (;;) pause();
    if (strcmp(t, "spin") == 0)
        for (volatile unsigned long i = 0;; i++) {
        }
}

static void send_result(assay__sandbox *sb, assay_status s, const char *msg) {
    unsigned char head[24];
    int64_t st = (int64_t)s;
    uint64_t shared = sb->shared_bytes, mlen = strlen(msg);
    memcpy(head, &st, 8);
    memcpy(head + 8, &shared, 8);
    memcpy(head + 16, &mlen, 8);
    uint64_t h[2] = {REC_RESULT, (uint64_t)(sizeof head + mlen + sb->len)};
    if (write_all(sb->fd, h, sizeof h) || write_all(sb->fd, head, sizeof head) ||
        write_all(sb->fd, msg, mlen) || write_all(sb->fd, sb->buf, sb->len))
        _exit(3);
}

/* The program's signal handlers belong to the parent (a test framework's longjmp, a CLI's
 * cleanup of temporary files): the child dies by default actions, with nothing blocked, and
 * with its parent. */
static void child_signals(pid_t parent) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent) _exit(6); /* the parent died before the line above */
}

static void child_main(assay_ctx *ctx, pid_t parent, int pipe_fd, int mem_fd, int mem_on_disk,
                       size_t mem_cap, const sb_limits *lim, assay__sandbox_fn fn, void *arg) {
    child_signals(parent);
    if (child_fds(pipe_fd, mem_fd) != 0) _exit(4);
    set_limit(RLIMIT_CORE, 0, 0);
    set_limit(RLIMIT_FSIZE, 0, 0);
    set_limit(RLIMIT_CPU, lim->cpu_s, lim->cpu_s + 5);
    if (lim->mem_bytes > 0) {
        size_t as = vm_size() + lim->mem_bytes;
        set_limit(RLIMIT_AS, (rlim_t)as, (rlim_t)as);
    }
    install_seccomp(); /* best effort: the kernel or qemu-user may not offer it */
    test_hook();
    assay__sandbox sb;
    memset(&sb, 0, sizeof sb);
    sb.fd = FD_PIPE;
    sb.mem_cap = mem_cap;
    sb.mem_on_disk = mem_on_disk;
    /* Progress goes to the parent; the lock may have been held by another thread at fork. */
    if (ctx != NULL) {
        ctx->progress = child_progress;
        ctx->progress_user = &sb;
        pthread_mutex_init(&ctx->progress_lock, NULL);
        pthread_mutex_init(&ctx->errmsg_lock, NULL);
        ctx->errmsg[0] = '\0';
    }
    assay_status s = fn(ctx, &sb, arg);
    send_result(&sb, s, ctx != NULL && s != ASSAY_OK ? ctx->errmsg : "");
    /* _exit: no atexit handlers (they belong to the parent's program), no stdio flush. */
    _exit(0);
}

/* ---- parent ---- */

static double env_double(const char *name, double dflt) {
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') return dflt;
    char *end;
    double d = strtod(v, &end);
    return end != v && *end == '\0' && d > 0 && d < 1e9 ? d : dflt;
}

static void get_limits(const char *path, sb_limits *l) {
    struct stat st;
    double gib = stat(path, &st) == 0 ? (double)st.st_size / 1073741824.0 : 0.0;
    /* A graph file is read in one H5Dread, with no progress in between: 10 s per GiB on top. */
    l->timeout_s = env_double("ASSAY_SANDBOX_TIMEOUT", DEFAULT_TIMEOUT_S + 10.0 * gib);
    l->cpu_s = (rlim_t)env_double("ASSAY_SANDBOX_CPU", DEFAULT_CPU_S + 60.0 * gib);
    if (l->cpu_s < 1) l->cpu_s = 1;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    double ram_mib = pages > 0 && psize > 0 ? (double)pages * (double)psize / 1048576.0 : 65536.0;
    l->mem_bytes = (size_t)(env_double("ASSAY_SANDBOX_MEMORY", ram_mib + 1024.0) * 1048576.0);
}

static const char *signal_name(int sig) {
    switch (sig) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGBUS:
        return "SIGBUS";
    case SIGABRT:
        return "SIGABRT";
    case SIGILL:
        return "SIGILL";
    case SIGFPE:
        return "SIGFPE";
    case SIGSYS:
        return "SIGSYS";
    case SIGTRAP:
        return "SIGTRAP";
    case SIGKILL:
        return "SIGKILL";
    case SIGXCPU:
        return "SIGXCPU";
    case SIGXFSZ:
        return "SIGXFSZ";
    case SIGPIPE:
        return "SIGPIPE";
    default:
        return NULL;
    }
}

typedef struct reply {
    unsigned char *buf;
    size_t len, cap, used; /* used: bytes of whole records consumed */
    int checked, have_result;
    int64_t status;
    uint64_t shared_bytes;
    /* offsets into buf, not pointers: buf may still grow (realloc) after the result record */
    size_t msg_off, msg_len;
    size_t payload_off, payload_len;
    int malformed;
} reply;

/* Consumes the whole records in r->buf: forwards progress, notes CHECKED and RESULT. */
static void parse_records(assay_ctx *ctx, reply *r) {
    while (!r->malformed && !r->have_result && r->len - r->used >= 16) {
        uint64_t h[2];
        memcpy(h, r->buf + r->used, 16);
        if (h[1] > r->len - r->used - 16) return; /* incomplete */
        const unsigned char *d = r->buf + r->used + 16;
        if (h[0] == REC_PROGRESS && h[1] == STAGE_LEN + 16) {
            char stage[STAGE_LEN];
            uint64_t done, total;
            memcpy(stage, d, STAGE_LEN);
            stage[STAGE_LEN - 1] = '\0';
            memcpy(&done, d + STAGE_LEN, 8);
            memcpy(&total, d + STAGE_LEN + 8, 8);
            assay__progress(ctx, stage, done, total);
        } else if (h[0] == REC_CHECKED && h[1] == 0) {
            r->checked = 1;
        } else if (h[0] == REC_RESULT && h[1] >= 24) {
            uint64_t mlen;
            memcpy(&r->status, d, 8);
            memcpy(&r->shared_bytes, d + 8, 8);
            memcpy(&mlen, d + 16, 8);
            if (mlen > h[1] - 24) {
                r->malformed = 1;
                return;
            }
            r->msg_off = (size_t)(d + 24 - r->buf);
            r->msg_len = (size_t)mlen;
            r->payload_off = r->msg_off + (size_t)mlen;
            r->payload_len = (size_t)(h[1] - 24 - mlen);
            r->have_result = 1;
        } else {
            r->malformed = 1;
            return;
        }
        r->used += 16 + (size_t)h[1];
    }
}

/* Reads the child's records until EOF; returns 0 at EOF, 1 on a timeout with no progress, 2 when
 * the caller cancelled (checked every 100 ms), -1 on a read error or out of memory. */
static int read_replies(assay_ctx *ctx, int fd, double timeout_s, reply *r) {
    double last = assay__now();
    for (;;) {
        double left = timeout_s - (assay__now() - last);
        if (left <= 0) return 1;
        if (assay__cancelled(ctx)) return 2;
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, left > 0.1 ? 100 : (int)(left * 1000.0) + 1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0) return -1;
        if (pr == 0) continue; /* the loop re-checks the clock */
        if (r->cap - r->len < 65536) {
            size_t cap = r->cap ? r->cap * 2 : 262144;
            unsigned char *b = realloc(r->buf, cap);
            if (b == NULL) return -1;
            r->buf = b;
            r->cap = cap;
        }
        ssize_t n = read(fd, r->buf + r->len, r->cap - r->len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) return -1;
        if (n == 0) return 0;
        r->len += (size_t)n;
        last = assay__now();
        parse_records(ctx, r);
    }
}

/* Waits for the child, killing it when it does not exit within `grace` seconds (it closed the
 * pipe but lingers: only a compromised child does that). */
static int reap(pid_t pid, double grace, int *status, struct rusage *ru) {
    double t0 = assay__now();
    for (;;) {
        pid_t w = wait4(pid, status, WNOHANG, ru);
        if (w == pid) return 0;
        if (w < 0 && errno != EINTR) return -1; /* ECHILD: SIGCHLD ignored by the program */
        if (assay__now() - t0 > grace) {
            kill(pid, SIGKILL);
            return waitpid(pid, status, 0) == pid ? 0 : -1;
        }
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}

static const char *const k_hostile = "it is damaged or hostile";

void assay__sandbox_out_free(assay__sandbox_out *out) {
    if (out == NULL) return;
    free(out->payload);
    if (out->shared != NULL) munmap(out->shared, out->shared_bytes);
    memset(out, 0, sizeof *out);
}

assay_status assay__sandbox_run(assay_ctx *ctx, const char *path, const char *what,
                                assay__sandbox_fn fn, void *arg, assay__sandbox_out *out) {
    memset(out, 0, sizeof *out);
    sb_limits lim;
    get_limits(path, &lim);
    if (SB_ASAN) lim.mem_bytes = 0;
    /* The shared region's file is sized (sparse, nothing allocated) by the parent: the child
     * runs with RLIMIT_FSIZE = 0 and may not grow files. Capped by our own file-size limit,
     * which would otherwise raise SIGXFSZ here. */
    size_t mem_cap = lim.mem_bytes ? lim.mem_bytes : (size_t)1 << 40;
    struct rlimit fl;
    if (getrlimit(RLIMIT_FSIZE, &fl) == 0 && fl.rlim_cur != RLIM_INFINITY &&
        (rlim_t)mem_cap > fl.rlim_cur)
        mem_cap = (size_t)fl.rlim_cur;
    /* Under a memory limit the region is a scratch file on disk, so that its pages can be
     * given back (core/bulk.c); else memory. */
    int on_disk = assay_ctx_memory_limit(ctx) != 0;
    int mem_fd = on_disk ? assay__scratch_file(ctx) : memfd_create("assay-sandbox", MFD_CLOEXEC);
    if (mem_fd < 0 || ftruncate(mem_fd, (off_t)mem_cap) != 0) {
        int e = errno;
        if (mem_fd >= 0) close(mem_fd);
        return assay__fail(ctx, assay__errno_status(e),
                           on_disk ? "%s: cannot set up the scratch file for the %s in %s: %s"
                                   : "%s: cannot set up shared memory for the %s%s: %s",
                           path, what, on_disk ? assay__scratch_dir(ctx) : "", strerror(e));
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        int e = errno;
        close(mem_fd);
        return assay__fail(ctx, assay__errno_status(e), "%s: cannot create a pipe for the %s: %s",
                           path, what, strerror(e));
    }
    pid_t parent = getpid();
    /* No thread of ours may be inside HDF5 when the child is copied (io/h5_lock.h). */
    assay__h5_lock();
    pid_t pid = fork();
    if (pid == 0)
        assay__h5_lock_reset_in_child();
    else
        assay__h5_unlock();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        close(mem_fd);
        return assay__fail(ctx, ASSAY_E_RESOURCE, "%s: cannot start the %s process: %s", path, what,
                           strerror(e));
    }
    if (pid == 0) {
        close(p[0]);
        child_main(ctx, parent, p[1], mem_fd, on_disk, mem_cap, &lim, fn, arg);
        _exit(5);
    }
    close(p[1]);
    reply r;
    memset(&r, 0, sizeof r);
    int rr = read_replies(ctx, p[0], lim.timeout_s, &r);
    close(p[0]);
    if (rr != 0) kill(pid, SIGKILL);
    int wst = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    int reaped = reap(pid, rr == 0 ? lim.timeout_s : 5.0, &wst, &ru) == 0;
    assay_status s = ASSAY_OK;
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                 1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    if (rr == 2) {
        s = assay__fail(ctx, ASSAY_E_CANCELLED, "%s: cancelled while the %s was reading it", path,
                        what);
    } else if (rr == 1) {
        s = assay__fail(ctx, ASSAY_E_FORMAT,
                        "%s: the %s made no progress for %g s on this file (a hang) and was "
                        "stopped: %s",
                        path, what, lim.timeout_s, k_hostile);
    } else if (rr < 0) {
        s = assay__fail(ctx, ASSAY_E_RESOURCE, "%s: cannot read the reply of the %s: %s", path,
                        what, strerror(errno));
    } else if (reaped && WIFSIGNALED(wst) &&
               (WTERMSIG(wst) == SIGXCPU ||
                (WTERMSIG(wst) == SIGKILL && cpu >= (double)lim.cpu_s))) {
        s = assay__fail(ctx, r.checked ? ASSAY_E_RESOURCE : ASSAY_E_FORMAT,
                        "%s: the %s reached its CPU-time limit (%llu s, RLIMIT_CPU%s)%s%s", path,
                        what, (unsigned long long)lim.cpu_s,
                        r.checked ? "; raise it with ASSAY_SANDBOX_CPU=<seconds>" : "",
                        r.checked ? "" : ": ", r.checked ? "" : k_hostile);
    } else if (reaped && WIFSIGNALED(wst)) {
        const char *name = signal_name(WTERMSIG(wst));
        char buf[32];
        if (name == NULL) snprintf(buf, sizeof buf, "signal %d", WTERMSIG(wst));
        s = assay__fail(ctx, ASSAY_E_FORMAT, "%s: the %s crashed (%s) on this file: %s", path, what,
                        name ? name : buf, k_hostile);
    } else if (r.malformed || (r.have_result && r.used != r.len)) {
        s = assay__fail(ctx, ASSAY_E_FORMAT, "%s: the %s sent a malformed reply: %s", path, what,
                        k_hostile);
    } else if (!r.have_result || (reaped && (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0))) {
        s = assay__fail(ctx, ASSAY_E_FORMAT,
                        "%s: the %s stopped without a result (exit status %d%s) on this file: %s",
                        path, what, reaped && WIFEXITED(wst) ? WEXITSTATUS(wst) : -1,
                        SB_ASAN ? "; see the sanitizer report above" : "", k_hostile);
    } else if (r.status != ASSAY_OK) {
        int known = r.status > 0 && r.status <= ASSAY_E_INTERRUPTED;
        int nomem = r.status == ASSAY_E_NOMEM && lim.mem_bytes > 0;
        char msg[ASSAY_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%.*s", (int)(r.msg_len < sizeof msg ? r.msg_len : 0),
                 (const char *)r.buf + r.msg_off);
        if (!known)
            s = assay__fail(ctx, ASSAY_E_FORMAT, "%s: the %s sent a malformed reply: %s", path,
                            what, k_hostile);
        else if (nomem && mem_cap < lim.mem_bytes)
            /* The shared region is a file: the caller's own file-size limit caps it. */
            s = assay__fail(ctx, r.checked ? ASSAY_E_RESOURCE : ASSAY_E_FORMAT,
                            "%s: the %s ran out of shared memory, capped at %.0f KiB by the "
                            "file-size limit (RLIMIT_FSIZE, ulimit -f): %s",
                            path, what, (double)mem_cap / 1024.0, msg[0] ? msg : "out of memory");
        else if (nomem)
            s = assay__fail(ctx, r.checked ? ASSAY_E_RESOURCE : ASSAY_E_FORMAT,
                            "%s: the %s reached its memory limit (%.0f MiB, RLIMIT_AS; raise it "
                            "with ASSAY_SANDBOX_MEMORY=<MiB>): %s",
                            path, what, (double)lim.mem_bytes / 1048576.0,
                            msg[0] ? msg : "out of memory");
        else
            s = assay__fail(ctx, (assay_status)r.status, "%s", msg[0] ? msg : "unknown error");
    } else if (r.shared_bytes > mem_cap) {
        s = assay__fail(ctx, ASSAY_E_FORMAT, "%s: the %s sent a malformed reply: %s", path, what,
                        k_hostile);
    } else {
        if (r.shared_bytes > 0) {
            /* Shrinking frees whatever the child touched beyond the region it reports. */
            long ps = sysconf(_SC_PAGESIZE);
            size_t len = (size_t)r.shared_bytes, round = (len + (size_t)ps - 1) / (size_t)ps * ps;
            void *m = MAP_FAILED;
            if (ftruncate(mem_fd, (off_t)round) == 0)
                m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0);
            if (m == MAP_FAILED)
                s = assay__fail(ctx, assay__errno_status(errno),
                                "%s: cannot map the %s's shared memory: %s", path, what,
                                strerror(errno));
            else {
                out->shared = m;
                out->shared_bytes = len;
            }
        }
        if (s == ASSAY_OK && r.payload_len > 0) {
            out->payload = malloc(r.payload_len);
            if (out->payload == NULL)
                s = assay__fail(ctx, ASSAY_E_NOMEM, "out of memory");
            else {
                memcpy(out->payload, r.buf + r.payload_off, r.payload_len);
                out->payload_len = r.payload_len;
            }
        }
        if (s != ASSAY_OK) assay__sandbox_out_free(out);
    }
    free(r.buf);
    close(mem_fd);
    return s;
}

/* ---- payload reading ---- */

int assay__sandbox_get_bytes(assay__sandbox_reader *r, size_t n, const void **p) {
    if ((size_t)(r->end - r->p) < n) return 0;
    *p = r->p;
    r->p += n;
    return 1;
}

int assay__sandbox_get_u64(assay__sandbox_reader *r, uint64_t *v) {
    const void *p;
    if (!assay__sandbox_get_bytes(r, 8, &p)) return 0;
    memcpy(v, p, 8);
    return 1;
}

int assay__sandbox_get_str(assay__sandbox_reader *r, const char **s, size_t *len) {
    uint64_t n;
    const void *p;
    if (!assay__sandbox_get_u64(r, &n)) return 0;
    if (n == 0) {
        *s = NULL;
        if (len) *len = 0;
        return 1;
    }
    if (n > (uint64_t)(r->end - r->p) || !assay__sandbox_get_bytes(r, (size_t)n, &p)) return 0;
    const char *c = p;
    if (c[n - 1] != '\0' || memchr(c, '\0', (size_t)n - 1) != NULL) return 0;
    *s = c;
    if (len) *len = (size_t)n - 1;
    return 1;
}
