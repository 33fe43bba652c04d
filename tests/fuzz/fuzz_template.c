/*
 * Fuzz target for the IPFIX template loader (map_ipfix_load): any template file must give
 * either a mapper or an error with a message, never a crash, a leak or a record that writes
 * outside its buffer.
 *
 * The loader only reads from a path (an operator names a file), so the input is written to
 * one memory-backed file (memfd) made once per process and loaded through /proc/self/fd:
 * nothing touches the disk and nothing is left behind. Each input is loaded twice, biflow
 * and uniflow, since the uniflow layout leaves rows out. A mapper that loads is then used the
 * way an output uses it: both templates are built and a few flows are filled into a record
 * buffer whose size is exactly what map_ipfix_fill() is promised, so ASan sees any write past
 * it.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "map/map_ipfix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Built once: libfixbuf's model is large and the loader only borrows it. */
static fbInfoModel_t *fuzz_model;
static int fuzz_fd = -1;
static char fuzz_path[64];

static bool fuzz_setup(void)
{
    if (fuzz_fd >= 0)
        return true;
    fuzz_fd = memfd_create("fuzz_template", MFD_CLOEXEC);
    if (fuzz_fd < 0) {
        perror("fuzz_template: memfd_create");
        abort();
    }
    snprintf(fuzz_path, sizeof fuzz_path, "/proc/self/fd/%d", fuzz_fd);
    fuzz_model = map_ipfix_model_new();
    return true;
}

static void fuzz_write(const uint8_t *data, size_t size)
{
    if (ftruncate(fuzz_fd, 0) != 0)
        abort();
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fuzz_fd, data + done, size - done, (off_t)done);
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
}

/* A flow with every value set, so each row source writes something. */
static void fuzz_flow(oc_flow_info_t *f, int family, bool both_ways)
{
    memset(f, 0, sizeof *f);
    f->id = 42;
    f->key.family = (uint8_t)family;
    f->key.protocol = family == 4 ? 1 : 58;
    f->key.vlan_id = 7;
    memset(f->key.src_addr, 0xa1, sizeof f->key.src_addr);
    memset(f->key.dst_addr, 0xb2, sizeof f->key.dst_addr);
    f->key.src_port = 1234;
    f->key.dst_port = 80;
    for (int d = 0; d < OC_DIRECTION_N; d++) {
        bool on = d == OC_DIRECTION_OUTBOUND || both_ways;
        f->statistics[OC_STAT_PACKETS][d] = on ? 3 + d : 0;
        f->statistics[OC_STAT_OCTETS][d] = on ? 1500 * (3 + d) : 0;
        f->statistics[OC_STAT_TIMESTAMP_FIRST][d] = on ? INT64_C(1700000000000000) + d : 0;
        f->statistics[OC_STAT_TIMESTAMP_LAST][d] = on ? INT64_C(1700000009000000) : 0;
        f->statistics[OC_STAT_TCP_FLAGS_INITIAL][d] = 0x02;
        f->statistics[OC_STAT_TCP_FLAGS_UNION][d] = 0x1b;
        f->icmp_type_code[d] = on ? 0x0800 : -1;
    }
    f->end_reason = OC_END_IDLE;
    f->protocol = OC_PROTO_HTTP;
}

static void fuzz_use(const map_ipfix_t *map)
{
    for (int fam = 0; fam < MAP_IPFIX_N_FAMILY; fam++) {
        GError *err = NULL;
        fbTemplate_t *t = map_ipfix_template_new(map, (map_ipfix_family_t)fam, &err);
        if (t == NULL) {
            /* map_ipfix_load() already built both templates: this cannot fail now. */
            abort();
        }
        fbTemplateFreeUnused(t);
        size_t rec_size = map_ipfix_record_size(map, (map_ipfix_family_t)fam);
        if (rec_size == 0 || rec_size > MAP_IPFIX_MAX_RECORD)
            abort();
        size_t n = map_ipfix_n_elements(map, (map_ipfix_family_t)fam);
        size_t sum = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t ent;
            uint16_t num, len;
            map_ipfix_element(map, (map_ipfix_family_t)fam, i, &ent, &num, &len);
            /* A variable-length element takes an fbVarfield_t in the internal record. */
            sum += len == FB_IE_VARLEN ? sizeof(fbVarfield_t) : len;
        }
        if (sum != rec_size)
            abort(); /* rows are laid out back to back, as libfixbuf does */
    }
    /* Exactly the room map_ipfix_fill() is promised, on the heap so ASan sees its end. */
    uint8_t *rec = malloc(2 * MAP_IPFIX_MAX_RECORD);
    if (rec == NULL)
        abort();
    for (int i = 0; i < 4; i++) {
        oc_flow_info_t f;
        fuzz_flow(&f, i < 2 ? 4 : 6, i % 2 == 0);
        map_ipfix_family_t fam;
        size_t nrec = map_ipfix_fill(map, &f, rec, &fam);
        if (nrec > 2 || (nrec > 0 && fam != (i < 2 ? MAP_IPFIX_V4 : MAP_IPFIX_V6)))
            abort();
    }
    free(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    fuzz_write(data, size);
    for (int uniflow = 0; uniflow < 2; uniflow++) {
        map_ipfix_opts_t opts = { .uniflow = uniflow != 0, .ingress_interface = 3 };
        GError *err = NULL;
        map_ipfix_t *map = map_ipfix_load(fuzz_model, fuzz_path, &opts, &err);
        if ((map == NULL) != (err != NULL))
            abort(); /* exactly one of: a mapper, or an error */
        if (err != NULL && (err->message == NULL || err->message[0] == '\0'))
            abort();
        if (map != NULL)
            fuzz_use(map);
        g_clear_error(&err);
        map_ipfix_free(map);
    }
    return 0;
}
