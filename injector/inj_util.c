/* inj_util.c: small jansson helpers the injector's files share.
 *
 * Every setter returns 0 or RC_NOMEM (with errmsg set) and, when it takes a
 * value with a `_new` meaning, releases that value on failure too. */
#include "injector/inj_internal.h"
#include "lib/asan.h"
#include "lib/errmsg.h"
#include "lib/mem.h"
#include "lib/rc.h"
#include "lib/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
nomem(void)
{
    return errmsg_set(RC_NOMEM, "out of memory while injecting");
}

/* Builds that check what inj_str and inj_set_new assume: fuzzing, and
 * AddressSanitizer */
#if defined(MZ_FUZZING) || defined(MZ_ASAN)
#define CHECK_UTF8 1
#endif

static void
check_utf8(const char *s, size_t n)
{
#ifdef CHECK_UTF8
    if (!utf8_valid(s, n))
        abort(); /* a string the injector made is not UTF-8: a bug */
#else
    (void)s;
    (void)n;
#endif
}

json_t *
inj_str(const char *s)
{
    size_t n;

    if (s == NULL)
        return NULL; /* as json_string(NULL): the caller's NOMEM path */
    n = strlen(s);
    check_utf8(s, n);
    return json_stringn_nocheck(s, n);
}

/* keys are literals or keys of jansson objects: valid UTF-8 (inj_str) */
int
inj_set_new(json_t *obj, const char *key, json_t *v)
{
    if (v == NULL)
        return nomem();
    check_utf8(key, strlen(key));
    if (json_object_set_new_nocheck(obj, key, v) != 0)
        return nomem();
    return 0;
}

int
inj_set_str(json_t *obj, const char *key, const char *s)
{
    return inj_set_new(obj, key, inj_str(s));
}

int
inj_append_new(json_t *arr, json_t *v)
{
    if (v == NULL || json_array_append_new(arr, v) != 0)
        return nomem();
    return 0;
}

int
inj_set_int(json_t *obj, const char *key, long long v)
{
    return inj_set_new(obj, key, json_integer(v));
}

int
inj_set_bool(json_t *obj, const char *key, int v)
{
    return inj_set_new(obj, key, json_boolean(v));
}

int
inj_arr_append_str(json_t *arr, const char *s)
{
    return inj_append_new(arr, inj_str(s));
}

int
inj_arr_append_pair(json_t *arr, const char *flag, const char *v)
{
    return inj_arr_append_str(arr, flag) || inj_arr_append_str(arr, v)
               ? RC_NOMEM
               : 0;
}

json_t *
inj_str_array(const char *const *items)
{
    json_t *a = json_array(); /* owned */

    for (size_t i = 0; a != NULL && items[i] != NULL; i++) {
        if (json_array_append_new(a, json_string(items[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

const char *
inj_annot(const struct inj_ctx *ctx, const char *key)
{
    json_t *a = ctx->annots; /* borrowed */
    size_t n = json_object_size(a), kl;

    if (n == 0)
        return NULL;
    if (n > INJ_ANNOT_SCAN)
        return jutil_str(a, key);
    kl = strlen(key);
    for (void *it = json_object_iter(a); it != NULL;
         it = json_object_iter_next(a, it)) {
        if (json_object_iter_key_len(it) == kl &&
            memcmp(json_object_iter_key(it), key, kl) == 0)
            return json_string_value(json_object_iter_value(it));
    }
    return NULL;
}

json_t *
inj_arr_find(const json_t *arr, const char *name, size_t *idx)
{
    size_t i;
    json_t *e; /* borrowed */

    json_array_foreach(arr, i, e)
    {
        const char *n = jutil_str(e, "name");
        if (n != NULL && strcmp(n, name) == 0) {
            if (idx != NULL)
                *idx = i;
            return e;
        }
    }
    return NULL;
}

static int
name_listed(const json_t *names, const char *n)
{
    size_t i;
    json_t *e; /* borrowed */

    json_array_foreach(names, i, e)
    {
        if (json_is_string(e) && strcmp(json_string_value(e), n) == 0)
            return 1;
    }
    return 0;
}

/* Removes every element whose "name" is listed; returns how many. Cannot
 * fail (removal only shrinks). */
int
inj_arr_remove_names(json_t *arr, const json_t *names)
{
    size_t i = 0;
    int removed = 0;

    if (!json_is_array(arr) || !json_is_array(names))
        return 0;
    while (i < json_array_size(arr)) {
        const char *n = jutil_str(json_array_get(arr, i), "name");
        if (n != NULL && name_listed(names, n)) {
            json_array_remove(arr, i);
            removed++;
        } else {
            i++;
        }
    }
    return removed;
}

int
inj_env_add(json_t *env, const char *name, const char *value)
{
    json_t *e = json_object(); /* owned */

    if (e == NULL || inj_set_new(e, "name", inj_str(name)) != 0 ||
        inj_set_new(e, "value", inj_str(value)) != 0) {
        json_decref(e);
        return nomem();
    }
    return inj_append_new(env, e);
}

/* inj_env_set replaces an existing entry by {name, value} at its place
 * (the entry may be shared: it is not edited), or appends. */
int
inj_env_set(json_t *env, const char *name, const char *value)
{
    size_t idx;
    json_t *e = inj_arr_find(env, name, &idx); /* borrowed */

    if (e == NULL)
        return inj_env_add(env, name, value);
    e = json_object(); /* owned */
    if (e == NULL || inj_set_new(e, "name", inj_str(name)) != 0 ||
        inj_set_new(e, "value", inj_str(value)) != 0) {
        json_decref(e);
        return nomem();
    }
    return json_array_set_new(env, idx, e) != 0 ? nomem() : 0; /* stolen */
}

int
inj_env_field(json_t *env, const char *name, const char *field_path)
{
    json_t *e = json_pack("{s:s, s:{s:{s:s}}}", "name", name, "valueFrom",
                          "fieldRef", "fieldPath", field_path); /* owned */
    return inj_append_new(env, e);
}

const char *
inj_container_env(const json_t *c, const char *name)
{
    json_t *e = inj_arr_find(jutil_arr(c, "env"), name, NULL); /* borrowed */

    return e ? jutil_str(e, "value") : NULL;
}

int
inj_image_url(char **out, const char *hub, const char *name, const char *tag,
              const char *type)
{
    static const char *const endings[] = {"-distroless", "-debug"};
    size_t tlen = strlen(tag), n;
    const char *dash = "-";
    char *s;

    *out = NULL;
    if (type == NULL || *type == '\0' || strcmp(type, "default") == 0)
        dash = "";
    if (type != NULL && *type != '\0') {
        for (size_t i = 0; i < sizeof(endings) / sizeof(endings[0]); i++) {
            size_t e = strlen(endings[i]);
            if (tlen >= e && memcmp(tag + tlen - e, endings[i], e) == 0)
                tlen -= e;
        }
    }
    if (*dash == '\0')
        type = "";
    /* one allocation, sized exactly: no partial image on failure */
    n = strlen(hub) + strlen(name) + tlen + strlen(type) + 4;
    s = mem_alloc(n);
    if (s == NULL)
        return errmsg_set(RC_NOMEM, "out of memory building the proxy image");
    snprintf(s, n, "%s/%s:%.*s%s%s", hub, name, (int)tlen, tag, dash, type);
    *out = s;
    return 0;
}

json_t *
inj_shallow_copy(const json_t *v)
{
    json_t *r = NULL; /* owned */
    const char *k;
    size_t kl, i;
    json_t *e; /* borrowed */

    if (json_is_object(v)) {
        r = json_object();
        json_object_keylen_foreach((json_t *)v, k, kl, e)
        {
            if (r != NULL && json_object_setn_nocheck(r, k, kl, e) != 0) {
                json_decref(r);
                r = NULL;
            }
        }
    } else if (json_is_array(v)) {
        r = json_array();
        json_array_foreach(v, i, e)
        {
            if (r != NULL && json_array_append(r, e) != 0) {
                json_decref(r);
                r = NULL;
            }
        }
    } else {
        return json_incref((json_t *)v);
    }
    return r;
}

int
inj_cow(json_t *parent, const char *key, json_t **out)
{
    json_t *v = json_object_get(parent, key); /* borrowed */
    json_t *c;                                /* owned */

    *out = NULL;
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    c = inj_shallow_copy(v);
    if (c == NULL || json_object_set_new(parent, key, c) != 0)
        return nomem();
    *out = c;
    return 0;
}

int
inj_cow_at(json_t *arr, size_t i, json_t **out)
{
    json_t *v = json_array_get(arr, i); /* borrowed */
    json_t *c;                          /* owned */

    *out = NULL;
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    c = inj_shallow_copy(v);
    if (c == NULL || json_array_set_new(arr, i, c) != 0)
        return nomem();
    *out = c;
    return 0;
}
