#!/usr/bin/python3
"""Self-test of check_docs.py: builds a tiny fixture repository in a temporary folder, checks
that the checker accepts it, then breaks it one way at a time (a missing file, a wrong anchor,
a missing script, an unknown target, subcommand, npm script or program, an undocumented flag
...) and checks that the checker fails and names the problem each time."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(HERE, "check_docs.py")
sys.path.insert(0, HERE)
import check_docs  # noqa: E402

FIXTURE = {
    "README.md": """# Fixture

See [the guide](docs/guide.md), [its second part](docs/guide.md#part-two-the-end),
[a repeated heading](docs/guide.md#notes-1), [this file](#commands) and
[a folder](scripts/). Not links: `[x](nowhere.md)` and the block below.
[a link whose text
crosses a line](docs/guide.md#notes) and `a code span
[z](nowhere.md)` across lines.

```text
[y](nowhere.md)
```

## Commands

```sh
bash scripts/run.sh --fast
build/bin/tool --help           # a CMake target
build/bin/b_replay corpus/      # one made by a foreach loop
avatarkit send in.wav --server http://127.0.0.1:8080 \\
    --record out.json
cd web && npm ci && npm test && node tools/t.mjs && cd ..
(cd web && npm run build)
export A=1 B=2 && FOO=bar cmake -S . -B build
```

```js
notAProgram(1);
```
""",
    "docs/guide.md": """# Guide

Back to the [README](../README.md#commands).

## Part two: the end!

```sh
# Not a heading: a comment in a code block
```

## Notes

## Notes
""",
    "scripts/run.sh": "#!/bin/sh\nexit 0\n",
    "CMakeLists.txt": "add_executable(tool main.c)\nadd_executable(avatarkit cli/main.c)\n"
                      "set(FZ a b)  # targets a_replay, b_replay\n"
                      "foreach(t ${FZ})\n  add_executable(${t}_replay ${t}.c)\nendforeach()\n",
    "cli/main.c": 'int main(int c, char **v) { const char *cmd = v[1];\n'
                  '  if (!strcmp(cmd, "send")) return 0;\n  return 2; }\n',
    "cli/send.c": 'int send(int argc, char **argv) { const char *a = argv[1];\n'
                  '  if (!strcmp(a, "--fast")) return 1;\n  return 0; }\n',
    "docs/cli.md": "# CLI\n\n`avatarkit send FILE [--fast]`\n",
    "server/main.c": 'static void usage(void) { printf(\n'
                     '  "  --listen HOST:PORT      listen address\\n"); }\n'
                     'const char *k = getenv("AVATARKIT_API_KEY");\n',
    "docs/server.md": "# Server\n\n`--listen HOST:PORT`, env `AVATARKIT_API_KEY`.\n",
    "backend/config.c": 'static const opt OPTS[] = {\n'
                        '  {"listen", "AVATARKIT_LISTEN", T_LISTEN, 0, 0, "HOST:PORT to serve"},\n'
                        '  {"api-key", "AVATARKIT_API_KEY", S(api_key), 1, 0, "key (secret)"},\n};\n',
    "docs/backend.md": "# Backend\n\n| `--listen` | `AVATARKIT_LISTEN` |\n| (secret) | `AVATARKIT_API_KEY` |\n",
    "web/package.json": '{"scripts": {"test": "node tools/t.mjs", "build": "true"}}\n',
    "web/tools/t.mjs": "\n",
}

# (what to do to the fixture, text the checker must print)
BREAKS = [
    (("README.md", "docs/guide.md)", "docs/gone.md)"), "link docs/gone.md: no such file"),
    (("README.md", "#part-two-the-end", "#part-two"), "no heading makes the anchor #part-two"),
    (("README.md", "#notes-1", "#notes-2"), "anchor #notes-2"),
    (("README.md", "line](docs/guide.md#notes)", "line](docs/guide.md#nope)"),
     "README.md:6: link docs/guide.md#nope"),
    (("README.md", "[this file](#commands)", "[this file](#not-a-heading)"),
     "anchor #not-a-heading"),
    (("docs/guide.md", "../README.md#commands", "../../outside.md"), "leaves the repository"),
    (("README.md", "bash scripts/run.sh", "bash scripts/gone.sh"), "scripts/gone.sh: no such script"),
    (("README.md", "build/bin/tool", "build/bin/toolx"), "CMake defines no target toolx"),
    (("README.md", "build/bin/b_replay", "build/bin/c_replay"), "CMake defines no target c_replay"),
    (("README.md", "avatarkit send", "avatarkit animate"), "avatarkit animate: no such subcommand"),
    (("README.md", "npm run build", "npm run lint"), "npm run lint: no such script"),
    (("README.md", "cd web && npm ci", "npm ci"), "npm: no package.json"),
    (("README.md", "node tools/t.mjs", "node tools/u.mjs"), "node tools/u.mjs: no such file"),
    (("README.md", "cd web && npm ci", "cd webx && npm ci"), "cd webx: no such folder"),
    (("README.md", "FOO=bar cmake", "FOO=bar frobnicate"), "frobnicate: not a program"),
    (("README.md", "(cd web && npm run build)", "(cd web && npm run build) && npm test"),
     "npm: no package.json"),
    (("README.md", "    --record out.json", "    --record out.json\nwget x"), "wget: not a program"),
    (("docs/cli.md", "[--fast]", "[--quick]"), "docs/cli.md: does not mention --fast"),
    (("server/main.c", "--listen HOST", "--bind HOST"), "docs/server.md: does not mention --bind"),
    (("docs/server.md", "env `AVATARKIT_API_KEY`", "env"),
     "docs/server.md: does not mention AVATARKIT_API_KEY"),
    (("docs/backend.md", "| `--listen` |", "| |"), "docs/backend.md: does not mention --listen"),
    (("docs/backend.md", "| `AVATARKIT_API_KEY` |", "| |"),
     "docs/backend.md: does not mention AVATARKIT_API_KEY"),
]


def make(root):
    for rel, text in FIXTURE.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def run(root):
    p = subprocess.run([sys.executable, CHECKER, "--root", root], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def main():
    failures = 0

    def check(ok, what):
        nonlocal failures
        print("%s - %s" % ("ok" if ok else "FAIL", what))
        failures += 0 if ok else 1

    # GitHub slugs of headings this project uses.
    for heading, slug in [
        ("Benchmark (`bench/engine/`)", "benchmark-benchengine"),
        ("`avatarkit bench` - concurrent real-time sessions",
         "avatarkit-bench---concurrent-real-time-sessions"),
        ("Payload format (layout version 1)", "payload-format-layout-version-1"),
        ("Targets: phoneme -> viseme -> ARKit (`tools/train/phones.c`)",
         "targets-phoneme---viseme---arkit-toolstrainphonesc"),
        ("Part two: the end!", "part-two-the-end"),
    ]:
        got = check_docs.slugify(heading)
        check(got == slug, "slug of %r is %r (got %r)" % (heading, slug, got))

    tmp = tempfile.mkdtemp(prefix="check_docs_selftest.")
    try:
        good = os.path.join(tmp, "good")
        make(good)
        rc, out = run(good)
        check(rc == 0, "the intact fixture passes (rc %d)\n%s" % (rc, out.strip()))
        check("7 relative links, 13 README commands: all resolve; 6 flags" in out,
              "every link, simple command and flag of the fixture is counted: " +
              out.strip())
        for i, ((rel, old, new), expect) in enumerate(BREAKS):
            root = os.path.join(tmp, "break%d" % i)
            make(root)
            path = os.path.join(root, rel)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            assert old in text, "fixture lacks %r" % old
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new, 1))
            rc, out = run(root)
            check(rc == 1 and expect in out,
                  "%s: %r -> %r fails with %r (rc %d)%s" % (rel, old, new, expect, rc,
                                                           "" if expect in out else "\n" + out))
    finally:
        shutil.rmtree(tmp)
    print("selftest_check_docs: %d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
