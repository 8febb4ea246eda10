/* avatarkit command-line tool: dispatches to the send, animate and bench subcommands. */
#include <stdio.h>
#include <string.h>

#include "avatarkit/version.h"
#include "cli.h"

static void usage(FILE *f) {
  fprintf(
      f,
      "avatarkit %s\n"
      "usage:\n"
      "  avatarkit send FILE [--rate N] [--server URL | --console URL --ingress URL]\n"
      "                [--api-key K] [--app-id A] [--avatar ID] [--realtime|--fast]\n"
      "                [--chunk-ms 40] [--opus] [--query-auth] [--record OUT.json] [--repeat N]\n"
      "                [--ca-file CA.pem]\n"
      "  avatarkit animate IN -o OUT.json [--rate N] [--fps 25] [--lookahead-ms N]\n"
      "                [--expressiveness X] [--seed S] [--model FILE]\n"
      "  avatarkit bench [--sessions N] [--duration S] [--clip FILE --rate R]\n"
      "                [--server URL | --spawn] [--server-pid PID] [--ramp] [--max-sessions N]\n"
      "                [--chunk-ms 40] [--api-key K] [--app-id A] [--avatar ID] [--ca-file "
      "CA.pem]\n"
      "  avatarkit --version | --help\n"
      "Credentials default to $AVATARKIT_API_KEY and $AVATARKIT_APP_ID.\n",
      AK_VERSION_STRING);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "--version")) {
    printf("avatarkit %s\n", AK_VERSION_STRING);
    return 0;
  }
  if (!strcmp(cmd, "send")) return cli_cmd_send(argc - 1, argv + 1);
  if (!strcmp(cmd, "animate")) return cli_cmd_animate(argc - 1, argv + 1);
  if (!strcmp(cmd, "bench")) return cli_cmd_bench(argc - 1, argv + 1, argv[0]);
  fprintf(stderr, "avatarkit: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
