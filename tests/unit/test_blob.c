/* tests/unit/test_blob.c: store/blob.c on a temporary storage directory: the writer's digests
 * for every algorithm ("abc" vectors, also written in pieces, the empty file, a million 'a', and
 * 40 MiB across the writeback windows), resume (durable prefix cut back, re-hashed in slices,
 * appended; the OFD lock keeps a second writer out; short and missing .part files; and, with
 * USD_REHASH_MIB=N, the re-hash cost of an N MiB prefix), the layout
 * (staging .part, final name, items/ link), abort, a failing write (file size limit),
 * publish (idempotent, missing blob), and refusal of ids that could leave the storage directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "store/blob.h"

#define ITEM "6f1c5e2a-item"
#define UUID "0a4c6b8e-sess"
#define SID ITEM ":" UUID
#define BLOB "b10b0000-0000-4000-8000-000000000001"

static char dir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/test_blob.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool exists(const char *fmt, const char *a, const char *b)
{
    char rel[512], path[1024];
    snprintf(rel, sizeof rel, fmt, a, b);
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    struct stat st;
    return stat(path, &st) == 0;
}

static void read_file(const char *rel, char *out, size_t size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(out, 1, size - 1, fp);
    out[n] = '\0';
    fclose(fp);
}

static const struct {
    checksum_alg_t alg;
    const char *abc;
    const char *empty;
} VECTORS[] = {
    {CHECKSUM_SHA1, "a9993e364706816aba3e25717850c26c9cd0d89d",
     "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {CHECKSUM_MD5, "900150983cd24fb0d6963f7d28e17f72", "d41d8cd98f00b204e9800998ecf8427e"},
    {CHECKSUM_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {CHECKSUM_SHA512,
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
     "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"},
};

static void test_digests(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++) {
        char blob[64], hex[CHECKSUM_MAX], content[16], rel[256];
        vapi_failure_t f;

        /* "abc" in two writes */
        snprintf(blob, sizeof blob, "abc-%zu", i);
        blob_writer_t *w = blob_writer_open(dir, SID, blob, VECTORS[i].alg, &f);
        assert_non_null(w);
        assert_true(exists("staging/" ITEM "/" UUID "/%s.part", blob, NULL));
        assert_int_equal(blob_writer_write(w, "a", 1), C_OK);
        assert_int_equal(blob_writer_write(w, "", 0), C_OK);
        assert_int_equal(blob_writer_write(w, "bc", 2), C_OK);
        assert_int_equal(blob_writer_bytes(w), 3);
        assert_int_equal(blob_writer_finish(w, hex), C_OK);
        assert_string_equal(hex, VECTORS[i].abc);
        assert_int_equal(strlen(hex), checksum_hex_len(VECTORS[i].alg));
        assert_false(exists("staging/" ITEM "/" UUID "/%s.part", blob, NULL));
        snprintf(rel, sizeof rel, "staging/" ITEM "/" UUID "/%s", blob);
        read_file(rel, content, sizeof content);
        assert_string_equal(content, "abc");

        /* empty file */
        snprintf(blob, sizeof blob, "empty-%zu", i);
        w = blob_writer_open(dir, SID, blob, VECTORS[i].alg, &f);
        assert_non_null(w);
        assert_int_equal(blob_writer_bytes(w), 0);
        assert_int_equal(blob_writer_finish(w, hex), C_OK);
        assert_string_equal(hex, VECTORS[i].empty);
        assert_true(exists("staging/" ITEM "/" UUID "/%s", blob, NULL));
    }
}

static void test_large_in_pieces(void **state)
{
    (void)state;
    /* 1,000,000 x 'a': the classic SHA-1 vector, written in odd-sized pieces. */
    static char a[7919];
    memset(a, 'a', sizeof a);
    vapi_failure_t f;
    blob_writer_t *w = blob_writer_open(dir, SID, BLOB, CHECKSUM_SHA1, &f);
    assert_non_null(w);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof a ? left : sizeof a;
        assert_int_equal(blob_writer_write(w, a, n), C_OK);
        left -= n;
    }
    assert_int_equal(blob_writer_bytes(w), 1000000);
    char hex[CHECKSUM_MAX];
    assert_int_equal(blob_writer_finish(w, hex), C_OK);
    assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

/* 40 MiB: several writeback windows (8 MiB) are started and waited for on the way. */
static void test_writeback_windows(void **state)
{
    (void)state;
    enum { PIECE = 65536, TOTAL = 40 * 1024 * 1024 + 12345 };
    static unsigned char piece[PIECE];
    EVP_MD_CTX *ref = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ref, EVP_sha256(), NULL);
    vapi_failure_t f;
    blob_writer_t *w = blob_writer_open(dir, SID, BLOB, CHECKSUM_SHA256, &f);
    assert_non_null(w);
    size_t done = 0;
    for (unsigned i = 0; done < TOTAL; i++) {
        size_t n = TOTAL - done < PIECE ? TOTAL - done : PIECE;
        memset(piece, (int)(i * 37), n);
        EVP_DigestUpdate(ref, piece, n);
        assert_int_equal(blob_writer_write(w, piece, n), C_OK);
        done += n;
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    EVP_DigestFinal_ex(ref, d, &dn);
    EVP_MD_CTX_free(ref);
    char want[CHECKSUM_MAX], hex[CHECKSUM_MAX];
    for (unsigned int i = 0; i < dn; i++)
        sprintf(want + 2 * i, "%02x", d[i]);
    assert_int_equal(blob_writer_finish(w, hex), C_OK);
    assert_string_equal(hex, want);
    char path[512];
    snprintf(path, sizeof path, "%s/staging/" ITEM "/" UUID "/" BLOB, dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, TOTAL);
}

/* Resume: write 10 MiB + 5, keep a 6 MiB durable prefix (the rest is cut away), re-hash it in
 * slices, append; the digest is that of prefix + appended bytes. */
static void test_resume(void **state)
{
    (void)state;
    enum { FIRST = 10 * 1024 * 1024 + 5, KEEP = 6 * 1024 * 1024 + 3, MORE = 3 * 1024 * 1024 + 1 };
    unsigned char *buf = malloc(FIRST > MORE ? FIRST : MORE);
    assert_non_null(buf);
    for (size_t i = 0; i < FIRST; i++)
        buf[i] = (unsigned char)(i * 131 + (i >> 13));
    EVP_MD_CTX *ref = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ref, EVP_sha256(), NULL);
    EVP_DigestUpdate(ref, buf, KEEP);
    vapi_failure_t f;
    blob_writer_t *w = blob_writer_open(dir, SID, BLOB, CHECKSUM_SHA256, &f);
    assert_non_null(w);
    assert_int_equal(blob_writer_write(w, buf, FIRST), C_OK);
    int64_t durable = -1;
    assert_int_equal(blob_writer_sync(w, &durable), C_OK);
    assert_int_equal(durable, FIRST);
    assert_int_equal(blob_writer_suspend(w, &durable), C_OK);
    assert_int_equal(durable, FIRST);
    assert_true(exists("staging/" ITEM "/" UUID "/%s.part", BLOB, NULL));

    int64_t have = -1;
    blob_writer_t *r = NULL;
    assert_int_equal(blob_writer_resume(dir, SID, BLOB, CHECKSUM_SHA256, KEEP, &r, &have, &f),
                     BLOB_RESUME_OK);
    assert_non_null(r);
    assert_int_equal(have, KEEP);
    assert_int_equal(blob_writer_bytes(r), KEEP);
    /* A second writer on the same blob is locked out while this one holds it. */
    blob_writer_t *other = NULL;
    assert_int_equal(blob_writer_resume(dir, SID, BLOB, CHECKSUM_SHA256, KEEP, &other, &have,
                                        &f), BLOB_RESUME_LOCKED);
    assert_null(other);
    /* No byte is taken before the prefix is hashed. */
    assert_int_equal(blob_writer_write(r, "x", 1), C_ERR);
    bool done = false;
    int slices = 0;
    while (!done) {
        assert_int_equal(blob_writer_rehash(r, 1024 * 1024, &done), C_OK);
        slices++;
    }
    assert_int_equal(slices, 7); /* 6 MiB + 3 in 1 MiB slices */
    for (size_t i = 0; i < MORE; i++)
        buf[i] = (unsigned char)(i * 7);
    EVP_DigestUpdate(ref, buf, MORE);
    assert_int_equal(blob_writer_write(r, buf, MORE), C_OK);
    assert_int_equal(blob_writer_bytes(r), KEEP + MORE);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    EVP_DigestFinal_ex(ref, d, &dn);
    EVP_MD_CTX_free(ref);
    char want[CHECKSUM_MAX], hex[CHECKSUM_MAX];
    for (unsigned int i = 0; i < dn; i++)
        sprintf(want + 2 * i, "%02x", d[i]);
    assert_int_equal(blob_writer_finish(r, hex), C_OK);
    assert_string_equal(hex, want);
    char path[512];
    snprintf(path, sizeof path, "%s/staging/" ITEM "/" UUID "/" BLOB, dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, KEEP + MORE);
    free(buf);
}

/* What a resume finds when the .part does not hold the recorded prefix. */
static void test_resume_short_and_missing(void **state)
{
    (void)state;
    vapi_failure_t f;
    blob_writer_t *w = blob_writer_open(dir, SID, BLOB, CHECKSUM_SHA1, &f);
    assert_non_null(w);
    assert_int_equal(blob_writer_write(w, "0123456789", 10), C_OK);
    int64_t durable;
    assert_int_equal(blob_writer_suspend(w, &durable), C_OK);
    int64_t have = -1;
    blob_writer_t *r = NULL;
    assert_int_equal(blob_writer_resume(dir, SID, BLOB, CHECKSUM_SHA1, 25, &r, &have, &f),
                     BLOB_RESUME_SHORT);
    assert_null(r);
    assert_int_equal(have, 10);
    assert_int_equal(blob_writer_resume(dir, SID, "no-such-blob", CHECKSUM_SHA1, 25, &r, &have,
                                        &f), BLOB_RESUME_MISSING);
    assert_null(r);
    /* staged 0 on a blob never written: created, nothing to re-hash. */
    assert_int_equal(blob_writer_resume(dir, SID, "fresh-blob", CHECKSUM_SHA1, 0, &r, &have,
                                        &f), BLOB_RESUME_OK);
    bool done = false;
    assert_int_equal(blob_writer_rehash(r, 1024, &done), C_OK);
    assert_true(done);
    char hex[CHECKSUM_MAX];
    assert_int_equal(blob_writer_write(r, "abc", 3), C_OK);
    assert_int_equal(blob_writer_finish(r, hex), C_OK);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    /* A writer closed without sync or delete leaves its .part. */
    w = blob_writer_open(dir, SID, "closed-blob", CHECKSUM_SHA1, &f);
    assert_non_null(w);
    blob_writer_close(w);
    assert_true(exists("staging/" ITEM "/" UUID "/%s.part", "closed-blob", NULL));
}

/* The rehash cost, printed for the notes: a USD_REHASH_MIB prefix (default 0: skipped) hashed
 * with USD_REHASH_ALG (default SHA256). */
static void test_rehash_cost(void **state)
{
    (void)state;
    const char *env = getenv("USD_REHASH_MIB");
    long mib = env ? strtol(env, NULL, 10) : 0;
    if (mib <= 0)
        skip();
    checksum_alg_t alg = CHECKSUM_SHA256;
    if (getenv("USD_REHASH_ALG"))
        assert_int_equal(checksum_alg_parse(getenv("USD_REHASH_ALG"), &alg), C_OK);
    vapi_failure_t f;
    blob_writer_t *w = blob_writer_open(dir, SID, BLOB, alg, &f);
    assert_non_null(w);
    static unsigned char piece[1 << 20];
    for (long i = 0; i < mib; i++) {
        memset(piece, (int)i, sizeof piece);
        assert_int_equal(blob_writer_write(w, piece, sizeof piece), C_OK);
    }
    int64_t durable;
    assert_int_equal(blob_writer_suspend(w, &durable), C_OK);
    for (int cold = 0; cold < 2; cold++) {
        if (cold) { /* drop the page cache of the file, if we may */
            char path[512];
            snprintf(path, sizeof path, "%s/staging/" ITEM "/" UUID "/" BLOB ".part", dir);
            int fd = open(path, O_RDONLY);
            if (fd >= 0) {
                posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
                close(fd);
            }
        }
        struct timespec t0, t1;
        struct rusage u0, u1;
        getrusage(RUSAGE_SELF, &u0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        blob_writer_t *r = NULL;
        int64_t have;
        assert_int_equal(blob_writer_resume(dir, SID, BLOB, alg, durable, &r, &have, &f),
                         BLOB_RESUME_OK);
        bool done = false;
        int slices = 0;
        while (!done) {
            assert_int_equal(blob_writer_rehash(r, 4u << 20, &done), C_OK);
            slices++;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        getrusage(RUSAGE_SELF, &u1);
        double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        double cpu = (double)(u1.ru_utime.tv_sec - u0.ru_utime.tv_sec) +
                     (double)(u1.ru_utime.tv_usec - u0.ru_utime.tv_usec) / 1e6 +
                     (double)(u1.ru_stime.tv_sec - u0.ru_stime.tv_sec) +
                     (double)(u1.ru_stime.tv_usec - u0.ru_stime.tv_usec) / 1e6;
        fprintf(stderr, "rehash %s of %ld MiB (%s): %.3f s wall, %.3f s CPU, %d slices of "
                "4 MiB, %.1f ms per slice, %.0f MiB/s\n", checksum_alg_name(alg), mib,
                cold ? "page cache dropped" : "in page cache", wall, cpu, slices,
                wall * 1000 / slices, (double)mib / wall);
        blob_writer_close(r);
    }
}

static void test_abort_removes_part(void **state)
{
    (void)state;
    vapi_failure_t f;
    blob_writer_t *w = blob_writer_open(dir, SID, BLOB, CHECKSUM_SHA256, &f);
    assert_non_null(w);
    assert_int_equal(blob_writer_write(w, "partial", 7), C_OK);
    assert_true(exists("staging/" ITEM "/" UUID "/%s.part", BLOB, NULL));
    blob_writer_abort(w);
    assert_false(exists("staging/" ITEM "/" UUID "/%s.part", BLOB, NULL));
    assert_false(exists("staging/" ITEM "/" UUID "/%s", BLOB, NULL));
    blob_writer_abort(NULL); /* harmless */
}

static void test_exclusive_create(void **state)
{
    (void)state;
    vapi_failure_t f;
    blob_writer_t *w = blob_writer_open(dir, SID, BLOB, CHECKSUM_SHA1, &f);
    assert_non_null(w);
    memset(&f, 0, sizeof f);
    assert_null(blob_writer_open(dir, SID, BLOB, CHECKSUM_SHA1, &f));
    assert_int_equal(f.type, VAPI_INTERNAL_SERVER_ERROR);
    assert_non_null(strstr(f.msg.default_message, "staging/" ITEM "/" UUID "/" BLOB ".part"));
    assert_null(strstr(f.msg.default_message, dir)); /* relative path only */
    assert_non_null(strstr(f.msg.default_message, "File exists"));
    blob_writer_abort(w);
}

/* A write the kernel refuses (file size limit: EFBIG): the writer reports it with errno,
 * refuses to finish, and removes the .part file. */
static void test_write_error(void **state)
{
    (void)state;
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 4096;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

    vapi_failure_t f;
    blob_writer_t *w = blob_writer_open(dir, SID, BLOB, CHECKSUM_SHA1, &f);
    assert_non_null(w);
    static char buf[8192];
    errno = 0;
    int rc = blob_writer_write(w, buf, sizeof buf);
    int err = errno;
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, C_ERR);
    assert_int_equal(err, EFBIG);
    assert_int_equal(blob_writer_write(w, "x", 1), C_ERR); /* stays failed */
    char hex[CHECKSUM_MAX];
    assert_int_equal(blob_writer_finish(w, hex), C_ERR);
    assert_false(exists("staging/" ITEM "/" UUID "/%s.part", BLOB, NULL));
    assert_false(exists("staging/" ITEM "/" UUID "/%s", BLOB, NULL));
}

static void test_bad_ids(void **state)
{
    (void)state;
    static const char *const sessions[] = {
        "no-colon", ":uuid", "item:", "../x:uuid", "item:..", "it/em:uuid", "item:uu/id",
        ".hidden:uuid", "item:.uuid", "",
    };
    vapi_failure_t f;
    for (size_t i = 0; i < sizeof sessions / sizeof sessions[0]; i++) {
        assert_null(blob_writer_open(dir, sessions[i], BLOB, CHECKSUM_SHA1, &f));
        assert_int_equal(f.type, VAPI_INTERNAL_SERVER_ERROR);
        assert_int_equal(blob_publish(dir, sessions[i], BLOB), C_ERR);
    }
    static const char *const blobs[] = {"", ".", "..", "../x", "a/b", ".part"};
    for (size_t i = 0; i < sizeof blobs / sizeof blobs[0]; i++) {
        assert_null(blob_writer_open(dir, SID, blobs[i], CHECKSUM_SHA1, &f));
        assert_int_equal(blob_publish(dir, SID, blobs[i]), C_ERR);
    }
    assert_null(blob_writer_open(dir, NULL, BLOB, CHECKSUM_SHA1, &f));
    assert_null(blob_writer_open(dir, SID, NULL, CHECKSUM_SHA1, &f));
    assert_null(blob_writer_open(dir, SID, BLOB, CHECKSUM_ALG_COUNT, &f));
    /* nothing was created outside (or inside) the storage directory */
    assert_false(exists("staging", NULL, NULL));
    assert_false(exists("items", NULL, NULL));
}

/* The item id may contain ':' itself: the session id splits at the last one. */
static void test_item_with_colon(void **state)
{
    (void)state;
    vapi_failure_t f;
    blob_writer_t *w = blob_writer_open(dir, "lib:item:" UUID, BLOB, CHECKSUM_MD5, &f);
    assert_non_null(w);
    char hex[CHECKSUM_MAX];
    assert_int_equal(blob_writer_finish(w, hex), C_OK);
    assert_true(exists("staging/lib:item/" UUID "/%s", BLOB, NULL));
}

static void write_blob(const char *sid, const char *blob, const char *content)
{
    vapi_failure_t f;
    blob_writer_t *w = blob_writer_open(dir, sid, blob, CHECKSUM_SHA1, &f);
    assert_non_null(w);
    assert_int_equal(blob_writer_write(w, content, strlen(content)), C_OK);
    char hex[CHECKSUM_MAX];
    assert_int_equal(blob_writer_finish(w, hex), C_OK);
}

/* Several blobs linked, then one sync: every link there; created says the item's directory
 * was made by the first link only. */
static void test_link_many_then_sync(void **state)
{
    (void)state;
    const char *sid = "lib2:item2:" UUID;
    const char *blobs[] = {"b-one", "b-two", "b-three"};
    bool created = false;
    for (size_t i = 0; i < 3; i++) {
        write_blob(sid, blobs[i], blobs[i]);
        bool made = false;
        assert_int_equal(blob_link(dir, sid, blobs[i], &made), C_OK);
        assert_true(made == (i == 0));
        created = created || made;
    }
    assert_int_equal(blob_sync_item(dir, sid, created), C_OK);
    for (size_t i = 0; i < 3; i++) {
        char content[16];
        char rel[64];
        snprintf(rel, sizeof rel, "items/lib2:item2/%s", blobs[i]);
        read_file(rel, content, sizeof content);
        assert_string_equal(content, blobs[i]);
    }
    bool made = false;
    assert_int_equal(blob_link(dir, sid, "b-one", &made), C_OK); /* again: EEXIST */
    assert_false(made);
    assert_int_equal(blob_link(dir, sid, "../x", &made), C_ERR);
    assert_int_equal(blob_sync_item(dir, "not-a-session", false), C_ERR);
}

static void test_publish(void **state)
{
    (void)state;
    write_blob(SID, BLOB, "hello");
    assert_int_equal(blob_publish(dir, SID, BLOB), C_OK);
    char path_a[512], path_b[512];
    snprintf(path_a, sizeof path_a, "%s/staging/" ITEM "/" UUID "/" BLOB, dir);
    snprintf(path_b, sizeof path_b, "%s/items/" ITEM "/" BLOB, dir);
    struct stat a, b;
    assert_int_equal(stat(path_a, &a), 0);
    assert_int_equal(stat(path_b, &b), 0);
    assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev); /* a hard link, not a copy */
    assert_int_equal(b.st_nlink, 2);
    char content[16];
    read_file("items/" ITEM "/" BLOB, content, sizeof content);
    assert_string_equal(content, "hello");
    /* again (a retried complete): EEXIST is success */
    assert_int_equal(blob_publish(dir, SID, BLOB), C_OK);
    /* a blob that was never staged */
    errno = 0;
    assert_int_equal(blob_publish(dir, SID, "never-staged"), C_ERR);
    assert_int_equal(errno, ENOENT);
    /* a .part (not READY) blob is not publishable under its final name */
    vapi_failure_t f;
    blob_writer_t *w = blob_writer_open(dir, SID, "in-flight", CHECKSUM_SHA1, &f);
    assert_non_null(w);
    assert_int_equal(blob_publish(dir, SID, "in-flight"), C_ERR);
    blob_writer_abort(w);

    /* deleting the staged name (the janitor, once the session ended) leaves the published one */
    char staged[512];
    snprintf(staged, sizeof staged, "%s", path_a);
    assert_int_equal(unlink(staged), 0);
    assert_int_equal(stat(path_b, &b), 0);
    assert_int_equal(b.st_nlink, 1);
}

/* A storage directory that cannot be written: INTERNAL_SERVER_ERROR naming the operation. */
static void test_unwritable_storage(void **state)
{
    (void)state;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/file-not-dir", dir);
    FILE *fp = fopen(sub, "w");
    assert_non_null(fp);
    fclose(fp);
    vapi_failure_t f;
    assert_null(blob_writer_open(sub, SID, BLOB, CHECKSUM_SHA1, &f));
    assert_int_equal(f.type, VAPI_INTERNAL_SERVER_ERROR);
    assert_non_null(strstr(f.msg.default_message, "Cannot create the file staging/"));
    assert_non_null(strstr(f.msg.default_message, "Not a directory"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_digests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_in_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writeback_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_short_and_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rehash_cost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_removes_part, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exclusive_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_item_with_colon, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_link_many_then_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_storage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
