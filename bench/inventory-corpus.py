"""Builds the clone benchmark's corpus from the Python standard library (bench/inventory.ts).

    python3 bench/inventory-corpus.py <stdlib dir> <out dir> <files>

<out>/lib holds the library's own .py files as they are (the "original" project). The rest of
<files> are spread over app-NN projects, each file made from a library file in one of four
ways, as people copy code:
  exact     pasted as it is (a type-1 clone of a whole file);
  renamed   pasted, then every local name renamed (type 2: identifiers changed, layout kept);
  edited    pasted, then about one statement in six deleted (a near clone);
  functions a new module of three functions pasted from three library files, plus one of its own
            (function-level clones inside otherwise different files).
Layout is kept byte for byte outside the changed tokens, so no tool is helped or hindered by
reformatting. Prints the ground truth as JSON: what each copy was made from. Deterministic
(seeded), so every run builds the same corpus.
"""

import ast
import builtins
import io
import json
import keyword
import os
import random
import sys
import tokenize

KINDS = [("exact", 0.40), ("renamed", 0.25), ("edited", 0.20), ("functions", 0.15)]
FILES_PER_APP = 120


def library_files(stdlib):
    out = []
    for base, dirs, files in os.walk(stdlib):
        dirs[:] = sorted(
            d for d in dirs if d not in ("site-packages", "dist-packages", "__pycache__")
        )
        for f in sorted(files):
            if f.endswith(".py"):
                out.append(os.path.relpath(os.path.join(base, f), stdlib))
    return out


def parses(text):
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def rename(text):
    """Every NAME that is not a keyword, a builtin, an attribute or part of an import: renamed."""
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    # The lines tokenize numbers: str.splitlines would also split at form feeds.
    lines = io.StringIO(text).readlines()
    reserved = set(keyword.kwlist) | set(keyword.softkwlist) | set(dir(builtins)) | {"self", "cls", "__name__", "__all__"}
    edits = []
    in_import = False
    prev = None
    for tok in tokens:
        if tok.type in (tokenize.NEWLINE, tokenize.NL):
            in_import = False
        elif tok.type == tokenize.NAME and tok.string in ("import", "from") and (
            prev is None or prev.type in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT,
                                          tokenize.DEDENT)
        ):
            in_import = True
        elif (
            tok.type == tokenize.NAME
            and not in_import
            and tok.string not in reserved
            and not tok.string.startswith("__")
            and not (prev is not None and prev.type == tokenize.OP and prev.string == ".")
        ):
            edits.append((tok.start, tok.end, "v_" + tok.string))
        if tok.type not in (tokenize.COMMENT,):
            prev = tok
    # Right to left, so earlier positions stay valid.
    for (srow, scol), (_, ecol), new in reversed(edits):
        line = lines[srow - 1]
        lines[srow - 1] = line[:scol] + new + line[ecol:]
    return "".join(lines)


def edit(text, tree, rnd):
    """Deletes about one in six statements that have siblings and whole lines of their own."""
    lines = io.StringIO(text).readlines()
    drop = set()
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if not isinstance(body, list) or len(body) < 2:
                continue
            keep_one = rnd.randrange(len(body))
            for i, stmt in enumerate(body):
                if i == keep_one or not isinstance(stmt, ast.stmt) or rnd.random() > 1 / 6:
                    continue
                # A decorated definition starts at its first decorator.
                start = min([stmt.lineno] + [d.lineno for d in
                                             getattr(stmt, "decorator_list", [])])
                first = lines[start - 1]
                if first[: stmt.col_offset].strip() or stmt.end_lineno is None:
                    continue
                last = lines[stmt.end_lineno - 1]
                if last[stmt.end_col_offset :].strip() not in ("",):
                    continue
                drop.update(range(start - 1, stmt.end_lineno))
    return "".join(l for i, l in enumerate(lines) if i not in drop)


def top_functions(text, tree):
    out = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno >= 6:
            src = ast.get_source_segment(text, node, padded=True)
            if src:
                out.append((node.name, src))
    return out


def own_function(n):
    return (
        f"def corpus_helper_{n}(values, scale={n}):\n"
        f"    result = []\n"
        f"    for index, value in enumerate(values):\n"
        f"        if value is None:\n"
        f"            continue\n"
        f"        result.append((index * {n + 3}, value * scale - {n % 7}))\n"
        f"    return sorted(result, key=lambda item: item[1])[: {n % 11 + 5}]\n"
    )


def main():
    stdlib, out, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rnd = random.Random(42)
    originals = []
    os.makedirs(os.path.join(out, "lib"))
    with open(os.path.join(out, "lib", "pyproject.toml"), "w") as f:
        f.write('[project]\nname = "lib"\n')
    for rel in library_files(stdlib):
        with open(os.path.join(stdlib, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        tree = parses(text)
        dest = os.path.join(out, "lib", rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "w", encoding="utf-8") as f:
            f.write(text)
        if tree is not None:
            originals.append((rel, text, tree))
    # Copies are made of files worth copying: over 40 lines, under 2,000.
    sources = [o for o in originals if 40 <= o[1].count("\n") <= 2000]
    with_functions = [(rel, fns) for rel, text, tree in sources
                      if (fns := top_functions(text, tree))]
    truth = []
    made = len(library_files(stdlib))
    n = 0
    while made < total:
        app = f"app-{n // FILES_PER_APP:02d}"
        r = rnd.random()
        kind = KINDS[-1][0]
        for k, share in KINDS:
            if r < share:
                kind = k
                break
            r -= share
        if kind == "functions":
            picks = rnd.sample(with_functions, 3)
            parts, froms = [], []
            for rel, fns in picks:
                name, src = rnd.choice(fns)
                parts.append(src)
                froms.append({"file": "lib/" + rel, "function": name})
            parts.append(own_function(n))
            body = "\n\n".join(parts)
            rel_out = f"{app}/helpers_{n}.py"
            truth.append({"copy": rel_out, "kind": kind, "from": froms})
        else:
            rel, text, tree = rnd.choice(sources)
            body = (text if kind == "exact" else rename(text) if kind == "renamed"
                    else edit(text, tree, rnd))
            rel_out = f"{app}/{os.path.splitext(rel.replace('/', '_'))[0]}_{n}.py"
            truth.append({"copy": rel_out, "kind": kind, "from": [{"file": "lib/" + rel}]})
        dest = os.path.join(out, rel_out)
        if not os.path.isdir(os.path.dirname(dest)):
            # A requirements file makes each app a Python project of its own.
            os.makedirs(os.path.dirname(dest))
            open(os.path.join(os.path.dirname(dest), "requirements.txt"), "w").close()
        with open(dest, "w", encoding="utf-8") as f:
            f.write(body)
        made += 1
        n += 1
    json.dump({"files": made, "library": len(library_files(stdlib)), "copies": truth},
              sys.stdout)


main()
