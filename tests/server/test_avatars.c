/* Unit test of the avatar registry (server/avatars.c): id and file-name rules, avatar.json
 * parsing, and loading directories (later directories replacing avatars, skipped entries, the
 * --avatars filter, the count bound) without starting a server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "server.h"

static void put(const char *dir, const char *id, const char *file, const char *text) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, id);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/%s/%s", dir, id, file);
  FILE *f = fopen(p, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

static void test_rules(void) {
  CHECK(ak__avatar_id_valid("default"));
  CHECK(ak__avatar_id_valid("a"));
  CHECK(ak__avatar_id_valid("0-a_b"));
  char id64[65], id65[66];
  memset(id64, 'a', 64);
  id64[64] = '\0';
  memset(id65, 'a', 65);
  id65[65] = '\0';
  CHECK(ak__avatar_id_valid(id64));
  CHECK(!ak__avatar_id_valid(id65));
  const char *bad_ids[] = {"", "-a", "_a", "A", "a.b", "a/b", "..", "a b", "é", NULL};
  for (int i = 0; bad_ids[i]; i++) CHECK(!ak__avatar_id_valid(bad_ids[i]));
  CHECK(!ak__avatar_id_valid(NULL));
  CHECK(ak__avatar_filename_valid("avatar.glb"));
  CHECK(ak__avatar_filename_valid("Face-2_x.GLB"));
  const char *bad_files[] = {"", ".glb", "../a.glb", "a/b.glb", "a b.glb", "a\\b", NULL};
  for (int i = 0; bad_files[i]; i++) CHECK(!ak__avatar_filename_valid(bad_files[i]));
}

static int parse(const char *json, const char *dir_id, ak_avatar *a, char *why) {
  return ak__avatar_parse(json, strlen(json), dir_id, a, why, 256);
}

static void test_parse(void) {
  ak_avatar a;
  char why[256];
  CHECK_EQ_INT(parse("{\"id\":\"amy\",\"name\":\"Amy\",\"description\":\"d\",\"model\":\"m.glb\","
                     "\"preview\":\"p.png\",\"license\":\"CC0\",\"default\":true,\"x\":[1]}",
                     "amy", &a, why),
               0);
  CHECK(!strcmp(a.id, "amy") && !strcmp(a.name, "Amy") && !strcmp(a.description, "d"));
  CHECK(!strcmp(a.model, "m.glb") && !strcmp(a.preview, "p.png") && !strcmp(a.license, "CC0"));
  CHECK_EQ_INT(a.is_default, 1);
  CHECK_EQ_INT(parse("{\"id\":\"bob\",\"model\":\"m.glb\"}", "bob", &a, why), 0);
  CHECK(!strcmp(a.name, "bob")); /* the name defaults to the id */
  CHECK_EQ_INT(a.is_default, 0);
  static const struct {
    const char *json, *why;
  } bad[] = {
      {"", "not a JSON object"},
      {"[1]", "not a JSON object"},
      {"{\"id\":\"bob\",\"model\":\"m.glb\"", "not a JSON object"},
      {"{\"id\":\"other\",\"model\":\"m.glb\"}", "must equal the directory name"},
      {"{\"model\":\"m.glb\"}", "must equal the directory name"},
      {"{\"id\":\"bob\"}", "\"model\" must be a plain file name"},
      {"{\"id\":\"bob\",\"model\":\"../m.glb\"}", "\"model\" must be a plain file name"},
      {"{\"id\":\"bob\",\"model\":\"m.glb\",\"preview\":\".p\"}", "\"preview\" must be"},
      {"{\"id\":\"bob\",\"model\":\"avatar.json\"}", "cannot name avatar.json"},
      {"{\"id\":\"bob\",\"model\":7}", "\"model\" is not a string"},
      {"{\"id\":\"bob\",\"model\":\"m.glb\",\"default\":1}", "\"default\" is not a boolean"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = '\0';
    CHECK_EQ_INT(parse(bad[i].json, "bob", &a, why), -1);
    if (!strstr(why, bad[i].why)) fprintf(stderr, "case %zu: why = '%s'\n", i, why);
    CHECK(strstr(why, bad[i].why) != NULL);
  }
  char longname[300];
  snprintf(longname, sizeof longname, "{\"id\":\"bob\",\"model\":\"m.glb\",\"name\":\"%0200d\"}",
           0);
  CHECK_EQ_INT(parse(longname, "bob", &a, why), -1);
  CHECK(strstr(why, "longer than 127 bytes") != NULL);
}

static void test_load(void) {
  char d1[] = "/tmp/ak-avatars-1-XXXXXX", d2[] = "/tmp/ak-avatars-2-XXXXXX";
  CHECK(mkdtemp(d1) != NULL);
  CHECK(mkdtemp(d2) != NULL);
  put(d1, "amy", "avatar.json", "{\"id\":\"amy\",\"name\":\"Amy 1\",\"model\":\"a.glb\"}");
  put(d1, "amy", "a.glb", "glTF");
  put(d1, "broken", "avatar.json", "{");
  put(d1, "nomodel", "avatar.json", "{\"id\":\"nomodel\",\"model\":\"a.glb\"}");
  put(d2, "amy", "avatar.json", "{\"id\":\"amy\",\"name\":\"Amy 2\",\"model\":\"a.glb\"}");
  put(d2, "amy", "a.glb", "glTF");
  put(d2, "bob", "avatar.json", "{\"id\":\"bob\",\"model\":\"b.glb\",\"default\":true}");
  put(d2, "bob", "b.glb", "glTF-bob");

  ak_server *s = calloc(1, sizeof *s);
  ak__server_config_defaults(&s->cfg);
  s->cfg.log_level = AK_LOG_ERROR; /* the skips are warnings: keep the output short */
  snprintf(s->cfg.avatars_dirs[0], sizeof s->cfg.avatars_dirs[0], "%s", d1);
  snprintf(s->cfg.avatars_dirs[1], sizeof s->cfg.avatars_dirs[1], "%s", d2);
  s->cfg.n_avatars_dirs = 2;
  s->cfg.builtin_avatars_dir[0] = '\0';
  ak__avatars_load(s);
  CHECK_EQ_INT(s->avatars.n, 2);
  const ak_avatar *amy = ak__avatars_find(s, "amy"), *bob = ak__avatars_find(s, "bob");
  CHECK(amy && !strcmp(amy->name, "Amy 2")); /* a later directory replaces an avatar */
  CHECK(bob && bob->is_default && bob->model_bytes == 8);
  CHECK(ak__avatars_find(s, "broken") == NULL);
  CHECK(ak__avatars_find(s, "nomodel") == NULL);
  CHECK(ak__avatars_find(s, "zed") == NULL);
  CHECK(ak__avatars_find(s, NULL) == NULL);
  /* the --avatars filter */
  snprintf(s->cfg.avatars[0], sizeof s->cfg.avatars[0], "bob");
  s->cfg.n_avatars = 1;
  CHECK(ak__avatars_find(s, "amy") == NULL);
  CHECK(ak__avatars_find(s, "bob") != NULL);
  ak__avatars_free(s);
  CHECK_EQ_INT(s->avatars.n, 0);

  /* an unreadable directory is not fatal */
  s->cfg.n_avatars = 0;
  CHECK_EQ_INT(ak__avatars_load_dir(s, "/nonexistent/avatars"), -1);
  /* the count bound: AK_MAX_AVATARS + 3 valid entries, AK_MAX_AVATARS loaded */
  char d3[] = "/tmp/ak-avatars-3-XXXXXX";
  CHECK(mkdtemp(d3) != NULL);
  for (int i = 0; i < AK_MAX_AVATARS + 3; i++) {
    char id[16], json[96];
    snprintf(id, sizeof id, "a%03d", i);
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"model\":\"m.glb\"}", id);
    put(d3, id, "avatar.json", json);
    put(d3, id, "m.glb", "glTF");
  }
  CHECK_EQ_INT(ak__avatars_load_dir(s, d3), AK_MAX_AVATARS);
  CHECK_EQ_INT(s->avatars.n, AK_MAX_AVATARS);
  CHECK(ak__avatars_find(s, "a000") != NULL);
  CHECK(ak__avatars_find(s, "a255") != NULL);
  CHECK(ak__avatars_find(s, "a256") == NULL);
  ak__avatars_free(s);
  free(s);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' '%s'", d1, d2, d3);
  CHECK_EQ_INT(system(cmd), 0);
}

int main(void) {
  test_rules();
  test_parse();
  test_load();
  return TEST_SUMMARY();
}
