#define _GNU_SOURCE
#include "cplatform.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pty.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <linux/serial.h>
#include <linux/gpio.h>
#include <unistd.h>

void cplatform_set_thread_name(const char *name) {
    char buf[16];
    strncpy(buf, name, 15);
    buf[15] = 0;
    pthread_setname_np(pthread_self(), buf);
}

int cplatform_set_rs485(int fd, int enabled, int rts_on_send_high, uint32_t delay_before_ms, uint32_t delay_after_ms) {
    struct serial_rs485 conf;
    memset(&conf, 0, sizeof(conf));
    if (enabled) {
        conf.flags = SER_RS485_ENABLED;
        if (rts_on_send_high) conf.flags |= SER_RS485_RTS_ON_SEND;
        else conf.flags |= SER_RS485_RTS_AFTER_SEND;
        conf.delay_rts_before_send = delay_before_ms;
        conf.delay_rts_after_send = delay_after_ms;
    }
    return ioctl(fd, TIOCSRS485, &conf);
}

int cplatform_get_rs485(int fd, int *enabled) {
    struct serial_rs485 conf;
    memset(&conf, 0, sizeof(conf));
    if (ioctl(fd, TIOCGRS485, &conf) != 0) return -1;
    *enabled = (conf.flags & SER_RS485_ENABLED) ? 1 : 0;
    return 0;
}

int cplatform_gpio_request_output(const char *chip_path, uint32_t line, int active_low, const char *consumer) {
    int chip = open(chip_path, O_RDWR | O_CLOEXEC);
    if (chip < 0) return -1;
    struct gpio_v2_line_request req;
    memset(&req, 0, sizeof(req));
    req.offsets[0] = line;
    req.num_lines = 1;
    req.config.flags = GPIO_V2_LINE_FLAG_OUTPUT | (active_low ? GPIO_V2_LINE_FLAG_ACTIVE_LOW : 0);
    strncpy(req.consumer, consumer, sizeof(req.consumer) - 1);
    int rc = ioctl(chip, GPIO_V2_GET_LINE_IOCTL, &req);
    int saved = errno;
    close(chip);
    if (rc != 0) {
        errno = saved;
        return -1;
    }
    return req.fd;
}

int cplatform_gpio_set(int line_fd, int active) {
    struct gpio_v2_line_values values;
    memset(&values, 0, sizeof(values));
    values.mask = 1;
    values.bits = active ? 1 : 0;
    return ioctl(line_fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &values);
}

int cplatform_open_pty(int *master_fd, int *slave_fd, char *slave_name, size_t slave_name_len) {
    struct termios tio;
    memset(&tio, 0, sizeof(tio));
    cfmakeraw(&tio);
    char name[256];
    if (openpty(master_fd, slave_fd, name, &tio, NULL) != 0) return -1;
    strncpy(slave_name, name, slave_name_len - 1);
    slave_name[slave_name_len - 1] = 0;
    fcntl(*master_fd, F_SETFD, FD_CLOEXEC);
    fcntl(*slave_fd, F_SETFD, FD_CLOEXEC);
    return 0;
}

int cplatform_set_nonblocking(int fd, int nonblocking) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    flags = nonblocking ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags);
}

int cplatform_set_cloexec(int fd) {
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

#include <sys/timex.h>
int cplatform_clock_synchronized(void) {
    struct timex tx;
    memset(&tx, 0, sizeof(tx));
    int state = adjtimex(&tx);
    if (state < 0) return -1;
    return (state != TIME_ERROR && !(tx.status & STA_UNSYNC)) ? 1 : 0;
}

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <malloc.h>
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
static int cplatform_swap_configured(void) {
    FILE *info = fopen("/proc/meminfo", "re");
    if (!info) return 1;  // unknown: assume swap, the careful answer
    char line[256];
    long total_kb = -1;
    while (fgets(line, sizeof(line), info))
        if (sscanf(line, "SwapTotal: %ld kB", &total_kb) == 1) break;
    fclose(info);
    return total_kb != 0;
}

long cplatform_page_out_file_mappings(void) {
    // Asks the kernel to reclaim the clean pages of this process's file mappings: the program's code
    // and constants and the shared libraries' (libc, SQLite, OpenSSL, ...). Pages touched only at
    // start-up or by a rare path stop counting as resident; what is used faults straight back in
    // from the page cache, and the kernel skips pages other processes map too.
    //
    // Code mappings are also marked MADV_RANDOM: a released page that is needed again is read alone,
    // without a read-ahead window, so the kernel's fault-around finds few unused neighbours to map.
    //
    // The program's writable data mapping holds clean pages (read, never written) beside dirty ones.
    // Without swap MADV_PAGEOUT reclaims only the clean ones; with swap it would write the dirty ones
    // out, so writable mappings are left alone then.
    int include_writable = !cplatform_swap_configured();
    // Free heap memory first: malloc keeps what was freed in each thread's arena; give back what it can.
    malloc_trim(0);
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps) return -1;
    char line[8192];
    long released = 0;
    while (fgets(line, sizeof(line), maps)) {
        unsigned long start, end;
        char perms[8];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path_at) < 3 || path_at == 0) continue;
        if (line[path_at] != '/' || (perms[1] == 'w' && !include_writable)) continue;
        if (perms[2] == 'x') (void)madvise((void *)start, end - start, MADV_RANDOM);
        if (madvise((void *)start, end - start, MADV_PAGEOUT) == 0) released += (long)(end - start);
    }
    fclose(maps);
    return released;
}
