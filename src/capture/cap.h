/*
 * Capture front-end: libpcap offline files (pcap and pcapng, "-" for standard input) and live
 * interfaces, with an optional BPF filter. Packets are handed to a callback in batches
 * (pcap_dispatch); timestamps come from the pcap header in microseconds.
 */
#ifndef OC_CAP_H
#define OC_CAP_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#include <ocellus/ocellus.h>

#define CAP_ERROR (cap_error_quark())
GQuark cap_error_quark(void);

typedef enum {
    CAP_ERROR_OPEN,      /* file unreadable, interface missing, permission */
    CAP_ERROR_FILTER,    /* BPF expression does not compile or cannot be set */
    CAP_ERROR_FORMAT,    /* bad file header */
    CAP_ERROR_TRUNCATED, /* a record is cut short or corrupt mid-file */
    CAP_ERROR_READ       /* other read error (interface went down, ...) */
} cap_error_t;

typedef struct cap cap_t;

/* One packet: capture time (µs since the epoch), bytes, captured and wire length, DLT. */
typedef void (*cap_packet_fn)(void *user, uint64_t ts_us, const uint8_t *data,
                              uint32_t caplen, uint32_t wirelen, int dlt);

typedef enum {
    CAP_STATUS_PACKETS, /* some packets were delivered */
    CAP_STATUS_IDLE,    /* live: nothing arrived within the timeout */
    CAP_STATUS_EOF,     /* offline: end of file */
    CAP_STATUS_ERROR    /* @error is set */
} cap_status_t;

/* Opens a capture file ("-" = standard input). Errors name the file. */
cap_t *cap_open_file(const char *path, const char *bpf, GError **error);

/* Opens a live interface (promiscuous if @promisc) with a kernel buffer of @buffer_mib MiB;
 * errors name the interface. */
cap_t *cap_open_live(const char *iface, const char *bpf, int snaplen, bool promisc,
                     uint32_t buffer_mib, GError **error);

/*
 * Delivers up to @max_packets packets to @fn. Live captures wait at most @timeout_ms for the
 * first one (poll on the selectable fd), so a quiet link returns CAP_STATUS_IDLE and the caller
 * can advance the flow clock. A broken file returns CAP_STATUS_ERROR with an error naming the
 * file and the byte offset; packets delivered before it stay delivered.
 */
cap_status_t cap_dispatch(cap_t *cap, int max_packets, int timeout_ms, cap_packet_fn fn,
                          void *user, GError **error);

/* Packets handed over at once by cap_dispatch_batch(), at most. */
#define CAP_BATCH 64

/* @n packets (1..CAP_BATCH); their bytes stay valid only during the call. */
typedef void (*cap_batch_fn)(void *user, const oc_packet_t *pkts, unsigned n);

/* cap_dispatch() delivering groups of packets: files in classic pcap format are handed over
 * CAP_BATCH packets at a time straight from the read buffer (oc_engine_process_batch
 * needs groups to prefetch); other sources one packet per call. */
cap_status_t cap_dispatch_batch(cap_t *cap, int max_packets, int timeout_ms, cap_batch_fn fn,
                                void *user, GError **error);

/* Stops a running cap_dispatch() from a signal handler (pcap_breakloop). */
void cap_break(cap_t *cap);

/* Bytes of the file consumed so far and its size (0 if unknown), for progress lines. */
void cap_progress(const cap_t *cap, uint64_t *done, uint64_t *total);

/* Kernel receive/drop counters of a live capture; false for files. */
bool cap_kernel_stats(cap_t *cap, uint64_t *received, uint64_t *dropped);

/* Name given at open ("file.pcap", "eth0"). */
const char *cap_name(const cap_t *cap);

/* Closes the capture; cap_free(NULL) does nothing. */
void cap_free(cap_t *cap);

#endif /* OC_CAP_H */
