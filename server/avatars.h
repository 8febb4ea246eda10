/* The avatar registry of the motion server: the avatars it knows, loaded once at startup from
 * avatar directories (avatars/<id>/avatar.json + the model file it names; see avatars/README.md).
 * The ingress refuses any other id, the console lists them and /avatars/<id>/ serves their
 * files. Read-only after loading; owned by the server object. */
#ifndef AK_SERVER_AVATARS_H
#define AK_SERVER_AVATARS_H

#include <stddef.h>

/* Longest avatar id: [a-z0-9][a-z0-9_-]{0,63}. */
#define AK_AVATAR_ID_MAX 64
/* Largest avatar.json read (bytes). */
#define AK_AVATAR_JSON_MAX (64 * 1024)
/* Largest model or preview file accepted (bytes). */
#define AK_AVATAR_FILE_MAX (256LL * 1024 * 1024)
/* Directory entries looked at per avatars directory (the rest is skipped with a warning). */
#define AK_AVATAR_DIR_SCAN_MAX 4096
/* Longest name / description / license / file name kept (bytes, without the NUL). */
#define AK_AVATAR_NAME_MAX 127
#define AK_AVATAR_DESC_MAX 1023
#define AK_AVATAR_FILENAME_MAX 127

typedef struct ak_avatar {
  char id[AK_AVATAR_ID_MAX + 1];
  char name[AK_AVATAR_NAME_MAX + 1];
  char description[AK_AVATAR_DESC_MAX + 1];
  char license[AK_AVATAR_DESC_MAX + 1];
  char model[AK_AVATAR_FILENAME_MAX + 1];   /* file name in dir */
  char preview[AK_AVATAR_FILENAME_MAX + 1]; /* "" when none */
  char dir[512];                            /* the avatar's directory */
  long long model_bytes;
  int is_default;
} ak_avatar;

typedef struct ak_avatar_registry {
  ak_avatar *items; /* n of them, at most AK_MAX_AVATARS */
  int n;
} ak_avatar_registry;

struct ak_server;

/* 1 when id matches [a-z0-9][a-z0-9_-]{0,63}. */
int ak__avatar_id_valid(const char *id);
/* 1 for a plain file name: [A-Za-z0-9_.-], not starting with '.', at most
 * AK_AVATAR_FILENAME_MAX bytes. */
int ak__avatar_filename_valid(const char *name);
/* Parses avatar.json text of the avatar directory dir named dir_id into a (fills every field
 * but model_bytes; checks nothing on disk). Returns 0, or -1 with the reason in why. */
int ak__avatar_parse(const char *json, size_t len, const char *dir_id, ak_avatar *a, char *why,
                     size_t why_cap);
/* Adds the avatars of one directory (each subdirectory holding an avatar.json) to the
 * server's registry; an invalid entry is skipped with one log line, a valid one with an id
 * already known replaces it (logged). Returns the number of new ids, or -1 when dir cannot be
 * read (logged). */
int ak__avatars_load_dir(struct ak_server *s, const char *dir);
/* Loads the configured directories: the built-in one, then every --avatars-dir in order
 * (environment, config file, flags), later ones replacing avatars of the same id. Logs the
 * outcome. */
void ak__avatars_load(struct ak_server *s);
/* The avatar with that id when it is in the registry and passes the --avatars allowlist;
 * NULL otherwise. */
const ak_avatar *ak__avatars_find(const struct ak_server *s, const char *id);
void ak__avatars_free(struct ak_server *s);

#endif
