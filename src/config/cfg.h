/*
 * Configuration: the INI file (-c FILE) and the long options named after its keys, validated
 * into plain structs that the other modules' constructors take. Nothing outside this module
 * touches a GKeyFile.
 */
#ifndef OC_CFG_H
#define OC_CFG_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include <ocellus/ocellus.h>

#include "export/exp.h"

#define CFG_ERROR (cfg_error_quark())
GQuark cfg_error_quark(void);

typedef enum {
    CFG_ERROR_FILE,      /* missing or unreadable file */
    CFG_ERROR_SYNTAX,    /* a line that is neither section, key = value, comment nor blank */
    CFG_ERROR_SECTION,   /* unknown section */
    CFG_ERROR_KEY,       /* unknown key */
    CFG_ERROR_DUPLICATE, /* key or section given twice */
    CFG_ERROR_VALUE,     /* bad value: names the allowed values */
    CFG_ERROR_MISSING    /* a required key is absent */
} cfg_error_t;

#define CFG_MAX_OUTPUTS 16

/* The whole configuration. Strings are owned by the struct (cfg_clear frees them). */
typedef struct cfg {
    /* [capture] */
    char *interface;            /* live capture interface, NULL when reading files */
    char *filter;               /* BPF expression or NULL */
    uint32_t snaplen;           /* bytes captured per packet (65535) */
    bool promiscuous;           /* (true) */
    uint32_t buffer_size_mib;   /* kernel capture buffer, MiB (32) */
    uint32_t workers;           /* flow engines on their own threads (1: none) */
    /* [flow] -> the engine */
    oc_config_t flow;
    /* [export] */
    uint32_t observation_domain;  /* default for outputs (1) */
    uint32_t template_refresh_s;  /* default for UDP outputs (60) */
    uint32_t shutdown_timeout_s;  /* time each output gets to deliver at exit (10) */
    /* [daemon] */
    char *user;                 /* drop privileges to this user after opening; NULL = stay */
    char *pid_file;             /* NULL = none */
    bool log_syslog;            /* log = syslog (LOG_DAEMON) instead of stderr (false) */
    uint32_t stats_interval_s;  /* statistics line every S seconds, 0 = never (60) */
    /* [output NAME] sections, or -o URI (which replace the file's outputs) */
    exp_output_cfg_t outputs[CFG_MAX_OUTPUTS];
    char *output_names[CFG_MAX_OUTPUTS];
    char *output_uris[CFG_MAX_OUTPUTS];
    char *output_templates[CFG_MAX_OUTPUTS];
    bool output_own_domain[CFG_MAX_OUTPUTS];  /* set in the output's own section */
    bool output_own_refresh[CFG_MAX_OUTPUTS];
    unsigned n_outputs;
    bool outputs_from_cli;      /* an -o was given: the file's outputs were dropped */
} cfg_t;

/* Sets every field to its default; no outputs. */
void cfg_init(cfg_t *cfg);
/* Frees the strings; the struct can be cfg_init()ed again. */
void cfg_clear(cfg_t *cfg);

/*
 * Reads @path into @cfg (over the defaults or what is already there). Unknown sections or
 * keys, duplicates, bad values and a missing file are errors that name the file, the line
 * and the key, with the allowed values. On error @cfg may be partly changed.
 */
bool cfg_load_file(cfg_t *cfg, const char *path, GError **error);

/* The same from a string (tests, fuzzing); @name stands for the file name in messages. */
bool cfg_load_data(cfg_t *cfg, const char *name, const char *data, size_t len, GError **error);

/*
 * Sets the key whose long option is --@option (e.g. "idle-timeout") from the command line.
 * Errors name the option and the allowed values. Returns false with CFG_ERROR_KEY for an
 * option that is not a configuration key.
 */
bool cfg_set_option(cfg_t *cfg, const char *option, const char *value, GError **error);

/*
 * Adds an output from an -o URI with the [export] defaults. The first call drops the
 * outputs that came from the file: -o on the command line replaces them.
 */
bool cfg_add_output_uri(cfg_t *cfg, const char *uri, GError **error);

/*
 * Gives every output without its own observation_domain / template_refresh the [export]
 * values (file or command line). Call once after the file, the options and the -o URIs.
 */
void cfg_finish(cfg_t *cfg);

/* One line per key for --help: "  --idle-timeout=S    [flow] idle_timeout ..." */
char *cfg_options_help(void);

/* Every key's long option name, NULL-terminated (for building GOptionEntry tables). */
const char *const *cfg_option_names(void);
/* Help text and value placeholder of option @i of cfg_option_names(). */
const char *cfg_option_help(unsigned i);
const char *cfg_option_arg(unsigned i);

#endif /* OC_CFG_H */
