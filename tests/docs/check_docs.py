#!/usr/bin/python3
"""Checks the project's Markdown documents against the tree they describe.

1. Every relative link in README.md, CONTRIBUTING.md and docs/*.md resolves: the file or
   folder exists inside the repository, and a `#anchor` names a heading of the target
   document (GitHub's slugs: lower case, punctuation dropped, spaces to hyphens, -1, -2 ...
   for repeats). Links inside code are not links and are skipped.
2. Every command quoted in a ```sh / ```bash / ```shell / plain ``` code block of README.md
   exists: `bash scripts/x.sh` -> the script is there; `build/bin/NAME` -> CMake defines a
   target NAME; `avatarkit SUB` -> cli/ dispatches SUB; `npm ci|test|run X` -> package.json
   (with script X) in the current folder; `node FILE` -> FILE exists; `cd DIR` -> DIR exists
   (and later commands of the block run there). Any other program must be a known system
   tool (EXTERNAL below), so a new one is added on purpose.
3. Every option the code accepts is named in its reference: docs/server.md each option of
   the Motion Server's usage text and each AVATARKIT_* variable it reads, docs/cli.md each
   flag the CLI compares against, docs/backend.md each entry of the backend's option table.

usage: check_docs.py [--root DIR]     (default: the repository holding this script)
Prints one line per problem and exits 1 if there is any, else prints a summary and exits 0.
"""
import os
import re
import shlex
import sys
import unicodedata

# System tools a README command may use besides the project's own programs.
EXTERNAL = {"cmake", "ctest", "make", "git", "curl", "espeak-ng", "python3", "/usr/bin/python3",
            "chromium", "sudo", "apt-get", "kill", "sleep", "echo", "cat"}
# Shell builtins and keywords that need no check.
BUILTINS = {"export", "set", "unset", "true", "false", ":", "wait", "source", "."}
SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")", ";;", "|&"}
SHELL_LANGS = {"", "sh", "bash", "shell", "console"}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def split_blocks(text):
    """Yields (kind, lang, start_line, lines): kind 'text' or 'code' (fenced)."""
    lines = text.split("\n")
    i, buf, start = 0, [], 1
    while i < len(lines):
        m = re.match(r"^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)", lines[i])
        if m:
            if buf:
                yield ("text", None, start, buf)
            fence, lang = m.group(1), m.group(2).lower()
            body, j = [], i + 1
            while j < len(lines) and not re.match(r"^ {0,3}" + re.escape(fence[0]) + "{%d,}\\s*$"
                                                  % len(fence), lines[j]):
                body.append(lines[j])
                j += 1
            yield ("code", lang, i + 2, body)
            i, buf, start = j + 1, [], j + 2
            continue
        buf.append(lines[i])
        i += 1
    if buf:
        yield ("text", None, start, buf)


def slugify(heading):
    """GitHub's anchor for a heading text."""
    s = re.sub(r"<[^>]+>", "", heading)                  # inline HTML
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", s)       # links keep their text
    s = s.strip().lower()
    out = []
    for ch in s:
        cat = unicodedata.category(ch)
        if ch in " -_" or cat[0] in "LN" or cat == "Mn":
            out.append("-" if ch == " " else ch)
    return "".join(out)


def anchors_of(path, cache={}):
    if path not in cache:
        seen, result = {}, set()
        for kind, _, _, lines in split_blocks(read(path)):
            if kind != "text":
                continue
            for line in lines:
                m = re.match(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
                if not m:
                    continue
                base = slugify(m.group(2))
                n = seen.get(base, 0)
                seen[base] = n + 1
                result.add(base if n == 0 else "%s-%d" % (base, n))
        cache[path] = result
    return cache[path]


LINK_RE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_RE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")


def strip_inline_code(text):
    """Drops code spans (which may cross lines), keeping their newlines for line numbers."""
    return re.sub(r"(`+)(?:(?!\1).)+?\1", lambda m: "\n" * m.group(0).count("\n"), text,
                  flags=re.S)


def check_links(root, md, problems):
    text = read(md)
    rel_md = os.path.relpath(md, root)
    count = 0
    for kind, _, start, lines in split_blocks(text):
        if kind != "text":
            continue
        block = strip_inline_code("\n".join(lines))
        found = [(m.start(), m.group(1)) for m in LINK_RE.finditer(block)]
        offset = 0
        for line in block.split("\n"):
            m = REF_RE.match(line)
            if m:
                found.append((offset, m.group(1)))
            offset += len(line) + 1
        for pos, t in found:
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", t):   # http:, mailto: ...
                continue
            count += 1
            where = "%s:%d" % (rel_md, start + block.count("\n", 0, pos))
            path, _, anchor = t.partition("#")
            target = md if not path else os.path.normpath(
                os.path.join(os.path.dirname(md), path))
            if os.path.relpath(target, root).startswith(".."):
                problems.append("%s: link %s leaves the repository" % (where, t))
                continue
            if not os.path.exists(target):
                problems.append("%s: link %s: no such file" % (where, t))
                continue
            if anchor:
                if not target.endswith(".md") or os.path.isdir(target):
                    problems.append("%s: link %s: anchor on a non-Markdown target" % (where, t))
                elif anchor not in anchors_of(target):
                    problems.append("%s: link %s: no heading makes the anchor #%s in %s"
                                    % (where, t, anchor, os.path.relpath(target, root)))
    return count


def cmake_executables(text):
    """Executable targets of one CMakeLists.txt; expands `${v}` of `foreach(v ...)` loops
    whose items are literals or `${LIST}` of a `set(LIST ...)` in the same file."""
    text = re.sub(r"#[^\n]*", "", text)
    lists = {m.group(1): m.group(2).split() for m in
             re.finditer(r"\bset\(\s*([A-Za-z0-9_]+)\s+([^)]*)\)", text)}
    loops = {}
    for m in re.finditer(r"\bforeach\(\s*([A-Za-z0-9_]+)\s+([^)]*)\)", text):
        items = []
        for item in m.group(2).split():
            ref = re.fullmatch(r"\$\{([A-Za-z0-9_]+)\}", item)
            items += lists.get(ref.group(1), []) if ref else [item]
        loops.setdefault(m.group(1), []).extend(items)
    names = set()
    for m in re.finditer(r"\badd_executable\(\s*([^\s)]+)", text):
        name = m.group(1)
        var = re.search(r"\$\{([A-Za-z0-9_]+)\}", name)
        if not var:
            names.add(name)
        else:
            names.update(name.replace(var.group(0), v) for v in loops.get(var.group(1), []))
    return names


def cmake_targets(root):
    names = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", "node_modules")
                       and not d.startswith("build")]
        if "CMakeLists.txt" in filenames:
            names |= cmake_executables(read(os.path.join(dirpath, "CMakeLists.txt")))
    return names


def cli_subcommands(root):
    main = os.path.join(root, "cli", "main.c")
    if not os.path.exists(main):
        return set()
    return set(re.findall(r'!strcmp\(\s*cmd\s*,\s*"([^"]+)"\s*\)', read(main)))


def package_scripts(folder):
    import json
    p = os.path.join(folder, "package.json")
    if not os.path.exists(p):
        return None
    return set(json.loads(read(p)).get("scripts", {}))


def logical_lines(body, start):
    """Joins backslash continuations; yields (line_number, text)."""
    acc, first = "", None
    for k, line in enumerate(body):
        if first is None:
            first = start + k
        if line.rstrip().endswith("\\"):
            acc += line.rstrip()[:-1] + " "
            continue
        yield first, acc + line
        acc, first = "", None
    if acc:
        yield first, acc


def tokens_of(line):
    lex = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
    lex.whitespace_split = True
    lex.commenters = "#"
    return list(lex)


def check_command(root, cwd, argv, ctx, where, problems):
    """Checks one simple command; returns the new cwd (for cd)."""
    while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):   # VAR=value prefixes
        argv = argv[1:]
    if not argv:
        return cwd
    prog, args = argv[0], argv[1:]

    def exists(rel):
        return os.path.exists(os.path.join(cwd, rel))

    if prog in BUILTINS:
        return cwd
    if prog == "cd":
        dest = os.path.normpath(os.path.join(cwd, args[0] if args else "."))
        if not os.path.isdir(dest):
            problems.append("%s: cd %s: no such folder" % (where, args[0] if args else ""))
            return cwd
        return dest
    if prog in ("bash", "sh"):
        script = next((a for a in args if not a.startswith("-")), None)
        if script is None or not exists(script):
            problems.append("%s: %s %s: no such script" % (where, prog, script or ""))
        return cwd
    base = os.path.basename(prog)
    if prog.endswith("/bin/" + base) or prog.startswith("bin/"):
        if base not in ctx["targets"]:
            problems.append("%s: %s: CMake defines no target %s" % (where, prog, base))
            return cwd
        prog = base
    if prog == "avatarkit":
        sub = args[0] if args else None
        if sub and not sub.startswith("-") and sub not in ctx["subcommands"]:
            problems.append("%s: avatarkit %s: no such subcommand in cli/" % (where, sub))
        return cwd
    if prog in ctx["targets"]:
        return cwd
    if prog == "npm":
        scripts = package_scripts(cwd)
        if scripts is None:
            problems.append("%s: npm: no package.json in %s" % (where, os.path.relpath(cwd, root)))
        elif args and args[0] in ("run", "run-script") and len(args) > 1:
            if args[1] not in scripts:
                problems.append("%s: npm run %s: no such script in package.json" % (where, args[1]))
        elif args and args[0] in ("test", "start") and args[0] not in scripts:
            problems.append("%s: npm %s: no such script in package.json" % (where, args[0]))
        return cwd
    if prog == "node":
        f = next((a for a in args if not a.startswith("-")), None)
        if f is not None and not exists(f):
            problems.append("%s: node %s: no such file" % (where, f))
        return cwd
    if "/" in prog:
        if not exists(prog):
            problems.append("%s: %s: no such file" % (where, prog))
        return cwd
    if prog not in EXTERNAL:
        problems.append("%s: %s: not a program of this project nor a known system tool "
                        "(add it to EXTERNAL in tests/docs/check_docs.py if it is one)"
                        % (where, prog))
    return cwd


def check_commands(root, md, problems):
    ctx = {"targets": cmake_targets(root), "subcommands": cli_subcommands(root)}
    rel_md = os.path.relpath(md, root)
    count = 0
    for kind, lang, start, body in split_blocks(read(md)):
        if kind != "code" or lang not in SHELL_LANGS:
            continue
        cwd = root
        for lineno, line in logical_lines(body, start):
            where = "%s:%d" % (rel_md, lineno)
            if line.lstrip().startswith("$ "):
                line = line.lstrip()[2:]
            try:
                toks = tokens_of(line)
            except ValueError as e:
                problems.append("%s: cannot parse %r: %s" % (where, line, e))
                continue
            saved, cmd = [], []
            for t in toks + [";"]:
                if t in SEPARATORS:
                    if cmd:
                        count += 1
                        cwd = check_command(root, cwd, cmd, ctx, where, problems)
                    cmd = []
                    if t == "(":
                        saved.append(cwd)
                    elif t == ")" and saved:
                        cwd = saved.pop()
                else:
                    cmd.append(t)
    return count


def c_sources(root, folder):
    d = os.path.join(root, folder)
    if not os.path.isdir(d):
        return ""
    return "\n".join(read(os.path.join(d, n)) for n in sorted(os.listdir(d)) if n.endswith(".c"))


def check_flags(root, problems):
    """Each program's reference names every flag (and environment variable) its code accepts:
    docs/server.md the Motion Server's usage text and getenv()s, docs/cli.md every flag the CLI
    compares against, docs/backend.md every entry of the backend's option table."""
    count = 0

    def need(doc, names, what):
        nonlocal count
        path = os.path.join(root, "docs", doc)
        if not names:
            return
        text = read(path) if os.path.exists(path) else ""
        for name in sorted(names):
            count += 1
            if not re.search(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", text):
                problems.append("docs/%s: does not mention %s (%s)" % (doc, name, what))

    server = c_sources(root, "server")
    need("server.md", set(re.findall(r'"\s+(--[a-z0-9][a-z0-9-]*)', server)),
         "an option in avatarkit-motion-server --help")
    need("server.md", set(re.findall(r'getenv\("(AVATARKIT_[A-Z0-9_]+)"\)', server)),
         "an environment variable the server reads")
    cli = c_sources(root, "cli")
    need("cli.md", set(re.findall(r'strcmp\(\s*a\s*,\s*"(--?[a-z0-9][a-z0-9-]*)"\s*\)', cli)),
         "a flag the CLI accepts")
    backend = os.path.join(root, "backend", "config.c")
    if os.path.exists(backend):
        opts = re.findall(r'\{\s*"([a-z0-9-]+)"\s*,\s*"(AVATARKIT_[A-Z0-9_]+)"([^}]*)\}',
                          read(backend))
        need("backend.md", {env for _, env, _ in opts}, "a backend setting")
        need("backend.md", {"--" + n for n, _, rest in opts if "(secret)" not in rest},
             "a backend flag")
    return count


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if len(argv) == 3 and argv[1] == "--root":
        root = os.path.abspath(argv[2])
    elif len(argv) != 1:
        print(__doc__.strip().split("\n\n")[-1].split("\n")[0], file=sys.stderr)
        return 2
    docs = [os.path.join(root, n) for n in ("README.md", "CONTRIBUTING.md")]
    ddir = os.path.join(root, "docs")
    if os.path.isdir(ddir):
        docs += sorted(os.path.join(ddir, n) for n in os.listdir(ddir) if n.endswith(".md"))
    docs = [d for d in docs if os.path.exists(d)]
    if not os.path.exists(os.path.join(root, "README.md")):
        print("check_docs: no README.md in %s" % root)
        return 1
    problems = []
    links = sum(check_links(root, d, problems) for d in docs)
    commands = check_commands(root, os.path.join(root, "README.md"), problems)
    flags = check_flags(root, problems)
    for p in problems:
        print(p)
    if problems:
        print("check_docs: %d problem(s)" % len(problems))
        return 1
    print("check_docs: %d documents, %d relative links, %d README commands: all resolve; "
          "%d flags and variables documented" % (len(docs), links, commands, flags))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
