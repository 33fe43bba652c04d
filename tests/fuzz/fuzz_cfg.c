/*
 * Fuzz target for the INI loader: any bytes must give either a configuration or an error
 * with a message, never a crash, a leak or a half-added output.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "config/cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cfg_t c;
    cfg_init(&c);
    GError *err = NULL;
    bool ok = cfg_load_data(&c, "fuzz.ini", (const char *)data, size, &err);
    if (ok == (err != NULL))
        abort(); /* exactly one of: success, or an error */
    if (err != NULL && (err->message == NULL || err->message[0] == '\0'))
        abort();
    for (unsigned i = 0; i < c.n_outputs; i++)
        if (c.outputs[i].uri == NULL)
            abort(); /* every output kept has its URI */
    g_clear_error(&err);
    cfg_clear(&c);
    return 0;
}
