/* cloudevents.c: CloudEvents 1.0 over HTTP (binary, structured and batch mode) → signals.
 * The required attributes are checked as the spec states them; which types are signals, and
 * where their data holds a signal's fields, comes from cloudevents.types (config.h). */
#include "adapters/adapter.h"
#include "adapters/json_util.h"
#include "config.h"
#include "util/cjson_arena.h"
#include "util/timeutil.h"
#include "util/utf8.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- media types ------------------------------------------------------------------------ */

/* The media type of ct (parameters and case aside) is exactly t. */
static bool media_is(const char *ct, const char *t)
{
    while (*ct == ' ' || *ct == '\t') ct++;
    size_t n = strlen(t);
    if (strncasecmp(ct, t, n) != 0) return false;
    char after = ct[n];
    return after == '\0' || after == ';' || after == ' ' || after == '\t';
}

/* application/json or any "+json" type: data the mapping can read. */
static bool media_json(const char *ct)
{
    if (!ct) return false;
    while (*ct == ' ' || *ct == '\t') ct++;
    size_t n = strcspn(ct, "; \t");
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0) return true;
    return n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0 && memchr(ct, '/', n) != NULL;
}

/* ---- attributes ------------------------------------------------------------------------- */

/* Extension attributes kept per event, as labels cloudevents.io/<name> and for a mapping's
 * {extension: name}: at most CE_MAX_EXT, names of the spec's alphabet (a-z, 0-9) of at most
 * CE_EXT_NAME_MAX characters (its recommendation), values of at most CE_EXT_VALUE_MAX bytes.
 * Any other is not kept (counted in adapter_input.ce_ext_dropped): the event is valid. */
#define CE_MAX_EXT       16
#define CE_EXT_NAME_MAX  20
#define CE_EXT_VALUE_MAX 256

typedef struct ce_attrs {
    const char *specversion, *id, *source, *type, *subject, *time, *dataschema;
    sig_kv      ext[CE_MAX_EXT];
    size_t      n_ext, ext_dropped;
    bool        binary;        /* from ce-* headers: messages name them so */
} ce_attrs;

static bool ext_name_valid(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789");
    return n > 0 && n <= CE_EXT_NAME_MAX && s[n] == '\0';
}

/* Keeps the extension name = value (value NULL: not a kept type) if it fits; the first of a
 * name wins, as for the other attributes. */
static void ext_add(ce_attrs *c, const char *name, const char *value)
{
    for (size_t i = 0; i < c->n_ext; i++)
        if (strcmp(c->ext[i].key, name) == 0) return;
    if (!value || !ext_name_valid(name) || strlen(value) > CE_EXT_VALUE_MAX || c->n_ext == CE_MAX_EXT) {
        c->ext_dropped++;
        return;
    }
    c->ext[c->n_ext++] = (sig_kv){name, value};
}

static const char *ext_get(const ce_attrs *c, const char *name)
{
    for (size_t i = 0; i < c->n_ext; i++)
        if (strcmp(c->ext[i].key, name) == 0) return c->ext[i].value;
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A ce-* header's value percent-decoded (HTTP binding 3.1.3.2), in the arena; a '%' not
 * followed by two hex digits is kept as it is. NULL stays NULL. The result must be UTF-8. */
static int header_decode(const char *v, const char *name, arena *a, const char **out, adapter_error *err)
{
    *out = v;
    if (!v) return ADAPTER_OK;
    size_t len = strlen(v);
    if (memchr(v, '%', len)) {
        char *d = arena_alloc(a, len + 1);
        size_t k = 0;
        for (size_t i = 0; i < len; i++) {
            int hi, lo;
            if (v[i] == '%' && i + 2 < len + 1 && (hi = hexval(v[i + 1])) >= 0 && (lo = hexval(v[i + 2])) >= 0) {
                d[k++] = (char)(hi << 4 | lo);
                i += 2;
            } else {
                d[k++] = v[i];
            }
        }
        d[k] = '\0';
        if (memchr(d, '\0', k)) return ajson_fail(err, ADAPTER_E_TYPE, "ce-%s: a NUL byte", name);
        *out = d;
        len = k;
    }
    size_t bad;
    if (!utf8_valid(*out, len, &bad)) return ajson_fail(err, ADAPTER_E_UTF8, "ce-%s: not valid UTF-8", name);
    return ADAPTER_OK;
}

/* The checks the spec puts on the required attributes (spec.md, "Required Attributes") and
 * on time (RFC 3339). `pre` names where they came from: "ce-" (binary mode), "" or "[i]."
 * (structured, batch). *t_ms = time, 0 when absent. */
static int attrs_check(const ce_attrs *c, const char *pre, int64_t *t_ms, adapter_error *err)
{
    if (!c->specversion) return ajson_fail(err, ADAPTER_E_MISSING, "%sspecversion is required", pre);
    if (strcmp(c->specversion, "1.0") != 0)
        return ajson_fail(err, ADAPTER_E_VERSION, "%sspecversion: \"%.*s\" is not supported (expected \"1.0\")", pre,
                          (int)utf8_truncate(c->specversion, strlen(c->specversion), 16), c->specversion);
    if (!c->id || !*c->id) return ajson_fail(err, ADAPTER_E_MISSING, "%sid is required (a non-empty string)", pre);
    if (!c->source || !*c->source)
        return ajson_fail(err, ADAPTER_E_MISSING, "%ssource is required (a non-empty URI-reference)", pre);
    if (!c->type || !*c->type) return ajson_fail(err, ADAPTER_E_MISSING, "%stype is required (a non-empty string)", pre);
    *t_ms = 0;
    if (c->time) {
        if (time_parse_rfc3339(c->time, strlen(c->time), t_ms) != 0)
            return ajson_fail(err, ADAPTER_E_TYPE, "%stime: \"%.*s\" is not an RFC 3339 timestamp", pre,
                              (int)utf8_truncate(c->time, strlen(c->time), 40), c->time);
        if (*t_ms < 0) *t_ms = 0;
    }
    return ADAPTER_OK;
}

/* A structured-mode extension's value as text (json-format.md: a Boolean is a JSON
 * boolean, an Integer a number, every other type a string); NULL for any other JSON. */
static const char *ext_text(const cJSON *v, arena *a)
{
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNumber(v) && v->valuedouble >= -2147483648.0 && v->valuedouble <= 2147483647.0 &&
        (double)(long)v->valuedouble == v->valuedouble)
        return arena_printf(a, "%ld", (long)v->valuedouble);
    return NULL;
}

/* A structured-mode event's attributes, in one pass over its members: the context
 * attributes (absent or null → NULL; anything but a string is an error: each is a String,
 * URI or Timestamp), datacontenttype, data, and every other member an extension. */
static int json_attrs(const cJSON *ev, const char *pre, arena *a, ce_attrs *c, const char **dct, const cJSON **data,
                      bool *b64, adapter_error *err)
{
    static const struct {
        const char *name;
        size_t      off;
    } names[] = {
        {"specversion", offsetof(ce_attrs, specversion)}, {"id", offsetof(ce_attrs, id)},
        {"source", offsetof(ce_attrs, source)},           {"type", offsetof(ce_attrs, type)},
        {"subject", offsetof(ce_attrs, subject)},         {"time", offsetof(ce_attrs, time)},
        {"dataschema", offsetof(ce_attrs, dataschema)},   {"datacontenttype", SIZE_MAX},
    };
    memset(c, 0, offsetof(ce_attrs, ext));
    c->n_ext = c->ext_dropped = 0;
    c->binary = false;
    bool seen[sizeof names / sizeof names[0]] = {0}, seen_data = false;
    *dct = NULL;
    *data = NULL;
    *b64 = false;
    for (const cJSON *m = ev->child; m; m = m->next) {
        const char *k = m->string;
        if (strcmp(k, "data") == 0) {
            if (!seen_data) *data = cJSON_IsNull(m) ? NULL : m;
            seen_data = true;
            continue;
        }
        if (strcmp(k, "data_base64") == 0) {
            *b64 = true;
            continue;
        }
        size_t i = 0;
        while (i < sizeof names / sizeof names[0] && strcmp(k, names[i].name) != 0) i++;
        if (i == sizeof names / sizeof names[0]) {
            if (!cJSON_IsNull(m)) ext_add(c, k, ext_text(m, a));
            continue;
        }
        if (seen[i]) continue;   /* the first of a name, as cJSON_GetObjectItem finds it */
        seen[i] = true;
        if (cJSON_IsNull(m)) continue;
        if (!cJSON_IsString(m)) return ajson_fail(err, ADAPTER_E_TYPE, "%s%s: expected a string", pre, k);
        const char **slot = names[i].off == SIZE_MAX ? dct : (const char **)((char *)c + names[i].off);
        *slot = m->valuestring;
    }
    return ADAPTER_OK;
}

static const cfg_ce_type *type_find(const adapter_input *in, const char *type)
{
    for (size_t i = 0; i < in->n_ce_types; i++)
        if (strcmp(in->ce_types[i].type, type) == 0) return &in->ce_types[i];
    return NULL;
}

/* ---- mapping ---------------------------------------------------------------------------- */

static const char *json_kind(const cJSON *v)
{
    return cJSON_IsObject(v) ? "an object" : cJSON_IsArray(v) ? "an array" : cJSON_IsNumber(v) ? "a number"
           : cJSON_IsBool(v) ? "a boolean" : "null";
}

/* The member path (config-validated: "a.b.c") in data; *out NULL when a member is absent. */
static int path_get(const cJSON *data, const char *path, const char *pre, const cJSON **out, adapter_error *err)
{
    const cJSON *v = data;
    const char *p = path;
    char name[257];
    while (v) {
        size_t n = strcspn(p, ".");
        if (n >= sizeof name) n = sizeof name - 1;
        memcpy(name, p, n);
        name[n] = '\0';
        if (!cJSON_IsObject(v))
            return ajson_fail(err, ADAPTER_E_TYPE, "%sdata.%.*s: expected an object on the way, found %s", pre,
                              (int)(p - path > 0 ? p - path - 1 : 0), path, json_kind(v));
        v = cJSON_GetObjectItemCaseSensitive(v, name);
        if (cJSON_IsNull(v)) v = NULL;
        if (!p[n]) break;
        p += n + 1;
    }
    *out = v;
    return ADAPTER_OK;
}

/* A string at path (NULL path: not mapped → *out NULL). required: absent or "" is an error. */
static int path_string(const cJSON *data, const char *path, const char *what, bool required, const char *pre,
                       const char *type, const char **out, adapter_error *err)
{
    *out = NULL;
    if (!path) return ADAPTER_OK;
    const cJSON *v;
    int rc = path_get(data, path, pre, &v, err);
    if (rc) return rc;
    if (v && !cJSON_IsString(v))
        return ajson_fail(err, ADAPTER_E_TYPE, "%sdata.%s: expected a string (the %s of type %s), found %s", pre, path,
                          what, type, json_kind(v));
    if (required && (!v || !*v->valuestring))
        return ajson_fail(err, ADAPTER_E_MISSING, "%sdata.%s is required (the %s of type %s)", pre, path, what, type);
    *out = v ? v->valuestring : NULL;
    return ADAPTER_OK;
}

/* Field k of type t for the event c: from its data (a path), an extension attribute, or
 * t's fixed value. required: absent or "" is an error naming where it was looked for. */
static int field_string(const cfg_ce_type *t, int k, bool required, const ce_attrs *c, const cJSON *data,
                        const char *pre, const char **out, adapter_error *err)
{
    const char *what = config_ce_field_names[k];
    switch (t->from[k]) {
    case CFG_CE_FROM_VALUE: *out = t->field[k]; return ADAPTER_OK;
    case CFG_CE_FROM_EXTENSION:
        *out = t->field[k] ? ext_get(c, t->field[k]) : NULL;
        if (required && (!*out || !**out))
            return ajson_fail(err, ADAPTER_E_MISSING, "%s%s is required (the %s of type %s: an extension attribute "
                              "of at most %d bytes)", c->binary ? "ce-" : pre, t->field[k], what, c->type,
                              CE_EXT_VALUE_MAX);
        return ADAPTER_OK;
    default: return path_string(data, t->field[k], what, required, pre, c->type, out, err);
    }
}

/* A signal that stands for an event answered without one (an unknown type, an invalid
 * event of a batch): named in the reply by its type and id, within a signal's limits. */
static void placeholder(sig_signal *s, const char *type, const char *id, size_t idx, int64_t now_ms, arena *a)
{
    memset(s, 0, sizeof *s);
    s->name = type && *type ? arena_strndup(a, type, utf8_truncate(type, strlen(type), 253)) : "CloudEvent";
    s->kind = "CloudEvent";
    s->res_name = id && *id ? arena_strndup(a, id, utf8_truncate(id, strlen(id), 253)) : arena_printf(a, "[%zu]", idx);
    s->namespace = s->res_namespace = "";
    s->signal_type = "cloudevent";
    s->source = "cloudevents";
    s->received_ms = s->firing_ms = now_ms;
    s->severity = SEV_WARNING;
    s->ignored = true;
    sig_fingerprint(s);
}

static void add(sig_map *m, const char *key, const char *value)
{
    if (!value) return;
    m->items[m->n].key = key;
    m->items[m->n].value = value;
    m->n++;
}

/* One event whose attributes passed attrs_check, into s. t: its type's mapping, NULL for a
 * type no entry maps (ignored). data: its data, parsed (NULL: none, or not JSON). */
static int event_signal(const adapter_input *in, const ce_attrs *c, int64_t t_ms, const cfg_ce_type *t,
                        const cJSON *data, bool data_json, const char *pre, int64_t now_ms,
                        const adapter_limits *lim, arena *a, sig_signal *s, adapter_error *err)
{
    (void)in;
    s->signal_type = "cloudevent";
    s->source = "cloudevents";
    s->received_ms = now_ms;
    s->firing_ms = t_ms ? t_ms : now_ms;
    s->status = SIG_FIRING;
    s->severity = SEV_WARNING;
    if (!t) {
        placeholder(s, c->type, c->id, 0, now_ms, a);
        s->ignore_reason = "unknown_type: no cloudevents.types entry for this type";
        return ADAPTER_OK;
    }
    if (!data_json || !cJSON_IsObject(data))
        return ajson_fail(err, ADAPTER_E_TYPE, "%sdata: expected a JSON object (type %s is mapped by cloudevents.types)",
                          pre, c->type);
    int rc;
    const char *v[CFG_CE_NFIELDS] = {0};
    for (int k = CFG_CE_NAME; k < CFG_CE_LABELS; k++)
        if ((rc = field_string(t, k, k <= CFG_CE_RESOURCE, c, data, pre, &v[k], err))) return rc;
    const char *status = v[CFG_CE_STATUS], *sev = v[CFG_CE_SEVERITY];
    if (status && strcmp(status, "resolved") == 0) s->status = SIG_RESOLVED;
    else if (status && strcmp(status, "firing") != 0)
        return ajson_fail(err, ADAPTER_E_TYPE, "%s%s%s: \"%.*s\" is not firing or resolved", c->binary ? "ce-" : pre,
                          t->from[CFG_CE_STATUS] == CFG_CE_FROM_EXTENSION ? "" : "data.", t->field[CFG_CE_STATUS], (int)utf8_truncate(status, strlen(status), 32), status);
    if (sev) s->severity = sig_severity_parse(sev);
    sig_map labels = {0};
    const char *lp = t->field[CFG_CE_LABELS];
    if (lp) {
        const cJSON *lv;
        if ((rc = path_get(data, lp, pre, &lv, err))) return rc;
        char path[300];
        snprintf(path, sizeof path, "%sdata", pre);
        if ((rc = ajson_string_map(lv, path, lp, a, &labels, err))) return rc;
        if (labels.n > AJSON_MAX_LABELS)
            return ajson_fail(err, ADAPTER_E_TYPE, "%sdata.%s: %zu labels, more than the limit of %d", pre, lp,
                              labels.n, AJSON_MAX_LABELS);
    }
    if (lim->fresh && t_ms && (rc = adapter_check_freshness("time", c->time, t_ms, now_ms, lim, false, err)))
        return rc;
    /* ours last: they win over data's labels of the same name */
    s->labels.items = arena_alloc(a, (labels.n + c->n_ext + 1) * sizeof *s->labels.items);
    for (size_t i = 0; i < labels.n; i++) add(&s->labels, labels.items[i].key, labels.items[i].value);
    for (size_t i = 0; i < c->n_ext; i++)
        add(&s->labels, arena_cat(a, "cloudevents.io/", c->ext[i].key, (char *)NULL), c->ext[i].value);
    add(&s->labels, "kubernaut.io/cloudevent-type", c->type);
    sig_map_sort_dedup(&s->labels);
    s->annotations.items = arena_alloc(a, 4 * sizeof *s->annotations.items);
    add(&s->annotations, "cloudevents.io/id", c->id);
    add(&s->annotations, "cloudevents.io/source", c->source);
    add(&s->annotations, "cloudevents.io/subject", c->subject);
    add(&s->annotations, "cloudevents.io/dataschema", c->dataschema);
    sig_map_sort_dedup(&s->annotations);
    s->name = v[CFG_CE_NAME];
    s->kind = v[CFG_CE_KIND];
    s->res_name = v[CFG_CE_RESOURCE];
    s->namespace = s->res_namespace = v[CFG_CE_NAMESPACE] ? v[CFG_CE_NAMESPACE] : "";
    sig_fingerprint(s);
    return sig_validate(s, err);
}

/* One structured-mode event (a JSON object; pre names it in messages). */
static int event_json(adapter_input *in, const cJSON *ev, const char *pre, int64_t now_ms,
                      const adapter_limits *lim, arena *a, sig_signal *s, adapter_error *err)
{
    if (!cJSON_IsObject(ev))   /* pre "[3]." names the event as "[3]" */
        return ajson_fail(err, ADAPTER_E_TYPE, "%.*s: expected a JSON object (a CloudEvent)",
                          *pre ? (int)strlen(pre) - 1 : 4, *pre ? pre : "body");
    ce_attrs c;
    const char *dct;
    const cJSON *data;
    bool b64;
    int rc;
    if ((rc = json_attrs(ev, pre, a, &c, &dct, &data, &b64, err))) return rc;
    int64_t t_ms;
    if ((rc = attrs_check(&c, pre, &t_ms, err))) return rc;
    const cfg_ce_type *t = type_find(in, c.type);
    if (t && b64)
        return ajson_fail(err, ADAPTER_E_TYPE, "%sdata_base64: binary data cannot be mapped; send data as JSON", pre);
    /* json-format.md 3.1: data is a JSON value when datacontenttype is JSON or absent */
    bool data_json = !dct || media_json(dct);
    rc = event_signal(in, &c, t_ms, t, data, data_json, pre, now_ms, lim, a, s, err);
    if (rc == 0) in->ce_ext_dropped += c.ext_dropped;
    return rc;
}

static int parse_binary(adapter_input *in, const char *body, size_t len, int64_t now_ms, const adapter_limits *lim,
                        arena *a, sig_signal **out, size_t *n, adapter_error *err)
{
    ce_attrs c;
    int rc;
    if ((rc = header_decode(in->ce_specversion, "specversion", a, &c.specversion, err)) ||
        (rc = header_decode(in->ce_id, "id", a, &c.id, err)) ||
        (rc = header_decode(in->ce_source, "source", a, &c.source, err)) ||
        (rc = header_decode(in->ce_type, "type", a, &c.type, err)) ||
        (rc = header_decode(in->ce_subject, "subject", a, &c.subject, err)) ||
        (rc = header_decode(in->ce_time, "time", a, &c.time, err)) ||
        (rc = header_decode(in->ce_dataschema, "dataschema", a, &c.dataschema, err)))
        return rc;
    c.n_ext = 0;
    c.ext_dropped = in->ce_ext_over;
    c.binary = true;
    for (size_t i = 0; i < in->n_ce_ext; i++) {
        const char *v;
        adapter_error ignored;
        /* a value that does not decode to UTF-8 is not kept, as one too long */
        ext_add(&c, in->ce_ext[i].key,
                header_decode(in->ce_ext[i].value, in->ce_ext[i].key, a, &v, &ignored) ? NULL : v);
    }
    int64_t t_ms;
    if ((rc = attrs_check(&c, "ce-", &t_ms, err))) return rc;
    sig_signal *s = arena_calloc(a, sizeof *s);
    const cfg_ce_type *t = type_find(in, c.type);
    cJSON *data = NULL;
    if (t) {
        if (!media_json(in->content_type))
            return ajson_fail(err, ADAPTER_E_MEDIA_TYPE, "Content-Type: the data of type %s must be JSON "
                                                         "(application/json or a +json type) to be mapped", c.type);
        if ((rc = ajson_parse(body, len, lim->max_depth, &data, err))) return rc;
    }
    rc = event_signal(in, &c, t_ms, t, data, true, "", now_ms, lim, a, s, err);
    if (rc) return rc;
    in->unknown_types += t == NULL;
    in->ce_ext_dropped += c.ext_dropped;
    if (t && len <= lim->max_payload_bytes) {
        s->payload = arena_strndup(a, body, len);
        s->payload_len = len;
    }
    *out = s;
    *n = 1;
    return ADAPTER_OK;
}

static int parse_batch(adapter_input *in, const cJSON *root, int64_t now_ms, const adapter_limits *lim, arena *a,
                       sig_signal **out, size_t *n, adapter_error *err)
{
    if (!cJSON_IsArray(root)) return ajson_fail(err, ADAPTER_E_TYPE, "body: expected a JSON array of CloudEvents");
    size_t count = 0;
    for (const cJSON *e = root->child; e; e = e->next) count++;
    if (count == 0) return ajson_fail(err, ADAPTER_E_EMPTY, "the batch holds no events");
    if (count > lim->max_alerts)
        return ajson_fail(err, ADAPTER_E_TOO_MANY, "%zu events in one batch, more than adapters.max_alerts (%zu)",
                          count, lim->max_alerts);
    sig_signal *sigs = arena_calloc(a, count * sizeof *sigs);
    adapter_error first = {0}, e1;
    size_t i = 0, good = 0, unknown = 0;
    for (const cJSON *e = root->child; e; e = e->next, i++) {
        sig_signal *s = &sigs[i];
        char pre[32];
        snprintf(pre, sizeof pre, "[%zu].", i);
        int rc = event_json(in, e, pre, now_ms, lim, a, s, &e1);
        if (rc == ADAPTER_OK) {
            good++;
            unknown += s->ignored;
            s->payload_json = e;                    /* printed only if an RR is made */
            continue;
        }
        if (!first.status) first = e1;
        /* Rejected on its own: named in the reply by what it carried. */
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type"), *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        placeholder(s, cJSON_IsString(type) ? type->valuestring : NULL, cJSON_IsString(id) ? id->valuestring : NULL,
                    i, now_ms, a);
        s->rejected = true;
        s->ignore_reason = arena_printf(a, "invalid_event: %s", e1.message);
    }
    if (good == 0) {   /* nothing to process: the request is the error */
        if (err) *err = first;
        return first.status;
    }
    in->unknown_types += unknown;
    in->invalid_events += count - good;
    *out = sigs;
    *n = count;
    return ADAPTER_OK;
}

int adapter_cloudevents_parse(adapter_input *in, const char *body, size_t len, int64_t now_ms,
                              const adapter_limits *lim, arena *a, sig_signal **out, size_t *n,
                              adapter_error *err)
{
    cJSON *root = NULL;
    const char *ct = in->content_type ? in->content_type : "";
    bool structured = media_is(ct, "application/cloudevents+json");
    bool batch = !structured && media_is(ct, "application/cloudevents-batch+json");
    if (!structured && !batch && !in->ce_specversion) {
        *out = NULL;
        *n = 0;
        if (media_json(in->content_type))
            return ajson_fail(err, ADAPTER_E_MISSING, "ce-specversion is required (binary mode: the event's attributes "
                                                      "in ce-* headers), or send application/cloudevents+json");
        return ajson_fail(err, ADAPTER_E_MEDIA_TYPE,
                          "Content-Type must be application/cloudevents+json (structured mode), "
                          "application/cloudevents-batch+json (batch mode), or the data's type with ce-* headers "
                          "(binary mode)");
    }
    if (!structured && !batch) {
        /* binary mode: ajson_begin's front end only once the type is known to be mapped */
        cjson_arena_enter(a);
        if (!lim) lim = &ajson_default_limits;
        *out = NULL;
        *n = 0;
        if (err) err->status = ADAPTER_OK, err->message[0] = '\0';
        int rc = parse_binary(in, body, len, now_ms, lim, a, out, n, err);
        ajson_end(NULL);
        return rc;
    }
    int rc = ajson_begin(body, len, &lim, a, out, n, err, &root);
    if (rc == 0 && batch) {
        rc = parse_batch(in, root, now_ms, lim, a, out, n, err);
    } else if (rc == 0) {
        sig_signal *s = arena_calloc(a, sizeof *s);
        rc = event_json(in, root, "", now_ms, lim, a, s, err);
        if (rc == 0) {
            in->unknown_types += s->ignored;
            if (len <= lim->max_payload_bytes) {
                s->payload = arena_strndup(a, body, len);
                s->payload_len = len;
            }
            *out = s;
            *n = 1;
        }
    }
    ajson_end(root);
    return rc;
}
