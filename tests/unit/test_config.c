/* tests/unit/test_config.c: the --redis forms (HOST:PORT, unix:PATH, sentinel://...), good and
 * bad, --redis-wait-replicas, and what config_store hands the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "net/config.h"

/* Parses "update-sessiond" followed by the given arguments (NULL-terminated). */
static int parse(config_t *cfg, ...) {
    char *argv[16] = {"update-sessiond"};
    int argc = 1;
    va_list ap;
    va_start(ap, cfg);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 15;) argv[argc++] = a;
    va_end(ap);
    return config_parse(cfg, argc, argv);
}

static void test_plain_forms_unchanged(void **state) {
    (void)state;
    config_t cfg;
    assert_int_equal(parse(&cfg, NULL), C_OK);
    assert_string_equal(cfg.redis_host, "127.0.0.1");
    assert_int_equal(cfg.redis_port, 6379);
    assert_int_equal(cfg.redis_sentinels, 0);
    assert_int_equal(cfg.redis_wait_replicas, 0);

    assert_int_equal(parse(&cfg, "--redis", "10.0.0.5:7000", NULL), C_OK);
    assert_string_equal(cfg.redis_host, "10.0.0.5");
    assert_int_equal(cfg.redis_port, 7000);
    assert_string_equal(cfg.redis_unix, "");

    assert_int_equal(parse(&cfg, "--redis", "unix:/run/redis.sock", NULL), C_OK);
    assert_string_equal(cfg.redis_unix, "/run/redis.sock");

    store_config_t sc;
    config_store(&cfg, &sc);
    assert_string_equal(sc.redis_unix, "/run/redis.sock");
    assert_int_equal(sc.sentinels, 0);
    assert_null(sc.master_name);
}

static void test_sentinel_forms(void **state) {
    (void)state;
    config_t cfg;
    assert_int_equal(parse(&cfg, "--redis", "sentinel://127.0.0.1:26379/mymaster", NULL), C_OK);
    assert_int_equal(cfg.redis_sentinels, 1);
    assert_string_equal(cfg.redis_sentinel_host[0], "127.0.0.1");
    assert_int_equal(cfg.redis_sentinel_port[0], 26379);
    assert_string_equal(cfg.redis_master, "mymaster");

    assert_int_equal(parse(&cfg, "--redis", "sentinel://a:1,[::1]:2,b.example:3/m-1.x_y",
                           "--redis-wait-replicas", "2", NULL),
                     C_OK);
    assert_int_equal(cfg.redis_sentinels, 3);
    assert_string_equal(cfg.redis_sentinel_host[0], "a");
    assert_string_equal(cfg.redis_sentinel_host[1], "::1");
    assert_int_equal(cfg.redis_sentinel_port[1], 2);
    assert_string_equal(cfg.redis_sentinel_host[2], "b.example");
    assert_int_equal(cfg.redis_sentinel_port[2], 3);
    assert_string_equal(cfg.redis_master, "m-1.x_y");
    assert_int_equal(cfg.redis_wait_replicas, 2);

    store_config_t sc;
    config_store(&cfg, &sc);
    assert_int_equal(sc.sentinels, 3);
    assert_string_equal(sc.sentinel_host[2], "b.example");
    assert_int_equal(sc.sentinel_port[0], 1);
    assert_string_equal(sc.master_name, "m-1.x_y");
    assert_int_equal(sc.wait_replicas, 2);

    /* A later --redis replaces the sentinel form entirely. */
    assert_int_equal(parse(&cfg, "--redis", "sentinel://a:1/m", "--redis", "h:5", NULL), C_OK);
    assert_int_equal(cfg.redis_sentinels, 0);
    assert_string_equal(cfg.redis_master, "");
    assert_string_equal(cfg.redis_host, "h");
}

static void test_sentinel_bad(void **state) {
    (void)state;
    const char *bad[] = {
        "sentinel://",                 /* nothing */
        "sentinel:///m",               /* no sentinel */
        "sentinel://a:1",              /* no master */
        "sentinel://a:1/",             /* empty master */
        "sentinel://a/m",              /* no port */
        "sentinel://a:0/m",            /* port 0 */
        "sentinel://a:70000/m",        /* port too big */
        "sentinel://:1/m",             /* no host */
        "sentinel://a:1,/m",           /* empty element */
        "sentinel://a:1,,b:2/m",       /* empty element */
        "sentinel://a:1/m x",          /* space in the name */
        "sentinel://a:1/m/n",          /* '/' in the host list */
        "sentinel://a:1/m\n",          /* control character */
        "sentinels://a:1/m",           /* not the scheme: not HOST:PORT either */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        config_t cfg;
        if (parse(&cfg, "--redis", bad[i], NULL) != C_ERR) fail_msg("accepted --redis '%s'", bad[i]);
    }
    /* 17 sentinels: one too many. */
    char many[512] = "sentinel://";
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sh%d:%d", i ? "," : "", i,
                 1000 + i);
    strcat(many, "/m");
    config_t cfg;
    assert_int_equal(parse(&cfg, "--redis", many, NULL), C_ERR);
    many[strlen(many) - strlen(",h16:1016/m")] = '\0';
    strcat(many, "/m");
    assert_int_equal(parse(&cfg, "--redis", many, NULL), C_OK);
    assert_int_equal(cfg.redis_sentinels, 16);

    assert_int_equal(parse(&cfg, "--redis-wait-replicas", "-1", NULL), C_ERR);
    assert_int_equal(parse(&cfg, "--redis-wait-replicas", "x", NULL), C_ERR);
    assert_int_equal(parse(&cfg, "--redis-wait-replicas", "101", NULL), C_ERR);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_forms_unchanged),
        cmocka_unit_test(test_sentinel_forms),
        cmocka_unit_test(test_sentinel_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
