#ifndef CPLATFORM_H
#define CPLATFORM_H
// Small C helpers for operating-system calls Swift cannot import directly (variadic functions,
// _GNU_SOURCE-only declarations, macros).
#include <stdint.h>
#include <sys/types.h>

/// Names the calling thread (first 15 bytes), as shown by `top -H` and in core dumps.
void cplatform_set_thread_name(const char *name);

/// Enables or disables the kernel RS-485 mode (TIOCSRS485) on a serial port.
/// Returns 0, or -1 with errno set (ENOTTY on PTYs and ports without RS-485 support).
int cplatform_set_rs485(int fd, int enabled, int rts_on_send_high, uint32_t delay_before_ms, uint32_t delay_after_ms);

/// Reads the kernel RS-485 mode (TIOCGRS485). Returns 0 with *enabled set, or -1 with errno set
/// (ENOTTY on PTYs and ports whose driver has no RS-485 support).
int cplatform_get_rs485(int fd, int *enabled);

/// Requests one line of a GPIO chip character device (GPIO v2 uAPI, Linux 5.10+) as an output
/// named `consumer`, initially inactive. Returns the line's file descriptor, or -1 with errno set.
int cplatform_gpio_request_output(const char *chip_path, uint32_t line, int active_low, const char *consumer);

/// Sets a requested GPIO output line active (1) or inactive (0). Returns 0, or -1 with errno set.
int cplatform_gpio_set(int line_fd, int active);

/// Opens a new pseudo-terminal pair in raw mode. Returns 0 and the two descriptors, or -1.
int cplatform_open_pty(int *master_fd, int *slave_fd, char *slave_name, size_t slave_name_len);

/// fcntl(fd, F_SETFL, flags | O_NONBLOCK) / clear it.
int cplatform_set_nonblocking(int fd, int nonblocking);

/// Sets FD_CLOEXEC.
int cplatform_set_cloexec(int fd);


/// Whether the kernel considers the system clock synchronised (adjtimex: not TIME_ERROR and
/// STA_UNSYNC clear). Returns 1, 0, or -1 when it cannot tell.
int cplatform_clock_synchronized(void);


/// Asks the kernel to reclaim the clean pages of this process's file mappings (the program's and the
/// shared libraries' code and constants; writable data mappings too when no swap is configured) with
/// MADV_PAGEOUT (Linux 5.4+), and marks code MADV_RANDOM (no read-ahead when a released page is needed again).
/// Returns the bytes advised, or -1. Harmless when unsupported.
long cplatform_page_out_file_mappings(void);
#endif
