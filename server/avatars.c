/* The avatar registry (avatars.h): scans avatar directories at startup, validates each entry
 * (id, avatar.json, model file, sizes, count) and keeps the valid ones. A bad entry never stops
 * the server: it is skipped with one log line that says why. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "avatars.h"
#include "server.h"

int ak__avatar_id_valid(const char *id) {
  size_t n = id ? strlen(id) : 0;
  if (n == 0 || n > AK_AVATAR_ID_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-'));
    if (!ok) return 0;
  }
  return 1;
}

int ak__avatar_filename_valid(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > AK_AVATAR_FILENAME_MAX || name[0] == '.') return 0;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-' || c == '.';
    if (!ok) return 0;
  }
  return 1;
}

/* Copies the optional string field key of o into out (cap bytes); 0 when absent or fitting,
 * -1 (with why) when present but not a string or too long. */
static int str_field(const cJSON *o, const char *key, char *out, size_t cap, char *why,
                     size_t why_cap) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  out[0] = '\0';
  if (!v || cJSON_IsNull(v)) return 0;
  if (!cJSON_IsString(v) || !v->valuestring) {
    snprintf(why, why_cap, "\"%s\" is not a string", key);
    return -1;
  }
  size_t n = strlen(v->valuestring);
  if (n >= cap) {
    snprintf(why, why_cap, "\"%s\" is longer than %zu bytes", key, cap - 1);
    return -1;
  }
  memcpy(out, v->valuestring, n + 1);
  return 0;
}

int ak__avatar_parse(const char *json, size_t len, const char *dir_id, ak_avatar *a, char *why,
                     size_t why_cap) {
  memset(a, 0, sizeof *a);
  cJSON *root = cJSON_ParseWithLength(json, len);
  int rc = -1;
  if (!root || !cJSON_IsObject(root)) {
    snprintf(why, why_cap, "avatar.json is not a JSON object");
    goto out;
  }
  if (str_field(root, "id", a->id, sizeof a->id, why, why_cap) ||
      str_field(root, "name", a->name, sizeof a->name, why, why_cap) ||
      str_field(root, "description", a->description, sizeof a->description, why, why_cap) ||
      str_field(root, "license", a->license, sizeof a->license, why, why_cap) ||
      str_field(root, "model", a->model, sizeof a->model, why, why_cap) ||
      str_field(root, "preview", a->preview, sizeof a->preview, why, why_cap))
    goto out;
  if (strcmp(a->id, dir_id) != 0) {
    snprintf(why, why_cap, "\"id\" must equal the directory name");
    goto out;
  }
  if (!ak__avatar_filename_valid(a->model)) {
    snprintf(why, why_cap, "\"model\" must be a plain file name next to avatar.json");
    goto out;
  }
  if (a->preview[0] && !ak__avatar_filename_valid(a->preview)) {
    snprintf(why, why_cap, "\"preview\" must be a plain file name next to avatar.json");
    goto out;
  }
  if (!strcmp(a->model, "avatar.json") || !strcmp(a->preview, "avatar.json")) {
    snprintf(why, why_cap, "\"model\" and \"preview\" cannot name avatar.json");
    goto out;
  }
  const cJSON *def = cJSON_GetObjectItemCaseSensitive(root, "default");
  if (def && !cJSON_IsBool(def)) {
    snprintf(why, why_cap, "\"default\" is not a boolean");
    goto out;
  }
  a->is_default = cJSON_IsTrue(def);
  if (!a->name[0]) snprintf(a->name, sizeof a->name, "%s", a->id);
  rc = 0;
out:
  cJSON_Delete(root);
  return rc;
}

/* Size of the regular file dir/name, or -1 when it is missing, not a regular file or over
 * AK_AVATAR_FILE_MAX. */
static long long file_size(const char *dir, const char *name, size_t cap_check) {
  char path[1024];
  struct stat st;
  int n = snprintf(path, sizeof path, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= sizeof path || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
      (long long)st.st_size > (long long)cap_check)
    return -1;
  return (long long)st.st_size;
}

static int read_small(const char *path, char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  char *buf = malloc(AK_AVATAR_JSON_MAX + 1);
  size_t n = buf ? fread(buf, 1, AK_AVATAR_JSON_MAX + 1, f) : 0;
  fclose(f);
  if (!buf || n > AK_AVATAR_JSON_MAX) {
    free(buf);
    return -2;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

static int by_id(const void *x, const void *y) {
  return strcmp(((const ak_avatar *)x)->id, ((const ak_avatar *)y)->id);
}

static int by_name(const void *x, const void *y) {
  return strcmp((const char *)x, (const char *)y);
}

/* The entry with that id, allowlist not applied (at most AK_MAX_AVATARS: a linear search). */
static ak_avatar *find_any(const ak_avatar_registry *reg, const char *id) {
  for (int i = 0; id && reg->items && i < reg->n; i++)
    if (strcmp(reg->items[i].id, id) == 0) return &reg->items[i];
  return NULL;
}

/* One avatar directory dir/id: validated into a (model_bytes included); -1 with why. */
static int load_entry(const char *dir, const char *id, ak_avatar *a, char *why, size_t why_cap) {
  char adir[512], path[1024];
  struct stat st;
  int n = snprintf(adir, sizeof adir, "%s/%s", dir, id);
  if (n < 0 || (size_t)n >= sizeof adir) {
    snprintf(why, why_cap, "path too long");
    return -1;
  }
  if (stat(adir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(why, why_cap, "not a directory");
    return -1;
  }
  snprintf(path, sizeof path, "%s/avatar.json", adir);
  char *json = NULL;
  size_t len = 0;
  int r = read_small(path, &json, &len);
  if (r == -1) {
    snprintf(why, why_cap, "no readable avatar.json");
    return -1;
  }
  if (r == -2) {
    snprintf(why, why_cap, "avatar.json is larger than %d bytes", AK_AVATAR_JSON_MAX);
    return -1;
  }
  r = ak__avatar_parse(json, len, id, a, why, why_cap);
  free(json);
  if (r) return -1;
  snprintf(a->dir, sizeof a->dir, "%s", adir);
  a->model_bytes = file_size(adir, a->model, (size_t)AK_AVATAR_FILE_MAX);
  if (a->model_bytes < 0) {
    snprintf(why, why_cap, "model file %s is missing, not a regular file or over %lld bytes",
             a->model, (long long)AK_AVATAR_FILE_MAX);
    return -1;
  }
  if (a->preview[0] && file_size(adir, a->preview, (size_t)AK_AVATAR_FILE_MAX) < 0) {
    snprintf(why, why_cap, "preview file %s is missing or not a regular file", a->preview);
    return -1;
  }
  return 0;
}

int ak__avatars_load_dir(ak_server *s, const char *dir) {
  ak_avatar_registry *reg = &s->avatars;
  DIR *d = opendir(dir);
  if (!d) {
    ak__log(s, AK_LOG_WARN, NULL, NULL, "avatars directory %s not readable: %s", dir,
            strerror(errno));
    return -1;
  }
  if (!reg->items) {
    reg->items = calloc(AK_MAX_AVATARS, sizeof *reg->items);
    if (!reg->items) {
      closedir(d);
      return -1;
    }
  }
  /* Sorted names, so the order of loading (and of the skips at the count bound) is stable. */
  char(*names)[AK_AVATAR_ID_MAX + 1] = calloc(AK_AVATAR_DIR_SCAN_MAX, sizeof *names);
  int n_names = 0, added = 0;
  struct dirent *e;
  while (names && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue; /* ., .. and hidden entries */
    if (!ak__avatar_id_valid(e->d_name)) {
      struct stat st;
      char p[1024];
      int pn = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      if (pn > 0 && (size_t)pn < sizeof p && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
        ak__log(s, AK_LOG_WARN, NULL, NULL,
                "avatar %.80s in %s skipped: id must match [a-z0-9][a-z0-9_-]{0,63}", e->d_name,
                dir);
      continue;
    }
    if (n_names >= AK_AVATAR_DIR_SCAN_MAX) {
      ak__log(s, AK_LOG_WARN, NULL, NULL, "avatars directory %s: entries beyond %d skipped", dir,
              AK_AVATAR_DIR_SCAN_MAX);
      break;
    }
    memcpy(names[n_names++], e->d_name, strlen(e->d_name) + 1); /* valid: at most 64 bytes */
  }
  closedir(d);
  ak_avatar *tmp = malloc(sizeof *tmp);
  if (!names || !tmp) {
    free(names);
    free(tmp);
    return -1;
  }
  qsort(names, (size_t)n_names, sizeof *names, by_name);
  for (int i = 0; i < n_names; i++) {
    const char *id = names[i];
    char adir[1024];
    struct stat st;
    int pn = snprintf(adir, sizeof adir, "%s/%s", dir, id);
    if (pn < 0 || (size_t)pn >= sizeof adir || stat(adir, &st) != 0 || !S_ISDIR(st.st_mode))
      continue; /* plain files (a README) are not avatars */
    ak_avatar *old = find_any(reg, id);
    if (!old && reg->n >= AK_MAX_AVATARS) {
      ak__log(s, AK_LOG_WARN, NULL, NULL, "avatar %s in %s skipped: registry full (%d avatars)", id,
              dir, AK_MAX_AVATARS);
      continue;
    }
    char why[256] = "";
    if (load_entry(dir, id, tmp, why, sizeof why) != 0) {
      ak__log(s, AK_LOG_WARN, NULL, NULL, "avatar %s in %s skipped: %s", id, dir, why);
      continue;
    }
    if (old) { /* a later directory replaces an avatar of an earlier one */
      ak__log(s, AK_LOG_INFO, NULL, NULL, "avatar %s in %s replaces the one in %s", id, dir,
              old->dir);
      *old = *tmp;
      continue;
    }
    reg->items[reg->n++] = *tmp;
    added++;
  }
  free(names);
  free(tmp);
  qsort(reg->items, (size_t)reg->n, sizeof *reg->items, by_id);
  return added;
}

void ak__avatars_load(ak_server *s) {
  if (s->cfg.builtin_avatars_dir[0]) ak__avatars_load_dir(s, s->cfg.builtin_avatars_dir);
  for (int i = 0; i < s->cfg.n_avatars_dirs; i++) ak__avatars_load_dir(s, s->cfg.avatars_dirs[i]);
  const ak_avatar_registry *reg = &s->avatars;
  int defaults = 0;
  for (int i = 0; i < reg->n; i++) defaults += reg->items[i].is_default;
  if (defaults > 1)
    ak__log(s, AK_LOG_WARN, NULL, NULL, "%d avatars are marked \"default\": expected one",
            defaults);
  for (int i = 0; i < s->cfg.n_avatars; i++)
    if (!find_any(reg, s->cfg.avatars[i]))
      ak__log(s, AK_LOG_WARN, NULL, NULL,
              "--avatars names %s, which is not in the avatar registry: it stays refused",
              s->cfg.avatars[i]);
  int usable = 0;
  for (int i = 0; i < reg->n; i++) usable += ak__avatars_find(s, reg->items[i].id) != NULL;
  if (usable == 0)
    ak__log(s, AK_LOG_WARN, NULL, NULL,
            "no avatars available: every session will be refused with 404 Avatar not found "
            "(add one with --avatars-dir DIR)");
  else
    ak__log(s, AK_LOG_INFO, NULL, NULL, "avatar registry: %d avatar(s) available", usable);
}

const ak_avatar *ak__avatars_find(const ak_server *s, const char *id) {
  const ak_avatar *a = find_any(&s->avatars, id);
  if (!a || s->cfg.n_avatars == 0) return a;
  for (int i = 0; i < s->cfg.n_avatars; i++)
    if (strcmp(s->cfg.avatars[i], id) == 0) return a;
  return NULL;
}

void ak__avatars_free(ak_server *s) {
  free(s->avatars.items);
  s->avatars.items = NULL;
  s->avatars.n = 0;
}
