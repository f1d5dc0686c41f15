"""The import graph of a package read from its source with `ast` (nothing is imported or run), imports
inside functions included: its cycles, and the imports inside functions that do not say why."""
import ast
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

# A comment that only talks to a tool says nothing about why.
TOOL_DIRECTIVE = re.compile(r"#\s*(noqa(:\s*[A-Z0-9, ]+)?|type:.*|pragma:.*)\s*")


@dataclass(frozen=True)
class Import:
    module: str
    path: Path
    line: int
    end_line: int
    in_function: bool
    targets: tuple


def modules(root):
    """Every module of the package at `root` by dotted name (imported from its parent); no migrations."""
    root = Path(root)
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if "migrations" not in parts:
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(found):
    """Every import statement of the modules in `found`, with the modules of `found` it loads."""
    out = []
    for module, path in found.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]

        def visit(node, in_function):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.Import):
                    names = [alias.name for alias in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                        base = ".".join(parts + ([base] if base else []))
                    # `from p import x` loads p, and p.x too when x is a module.
                    names = [base] + [f"{base}.{alias.name}" for alias in child.names]
                else:
                    visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))
                    continue
                targets = tuple(dict.fromkeys(name for name in names if name in found and name != module))
                out.append(Import(module, path, child.lineno, child.end_lineno, in_function, targets))

        visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)
    return out


def graph(found, statements=None):
    """module -> {imported module: [the import statements that load it]}."""
    edges = {module: {} for module in found}
    for statement in imports(found) if statements is None else statements:
        for target in statement.targets:
            edges[statement.module].setdefault(target, []).append(statement)
    return edges


def cycles(edges, within=None):
    """The strongly connected components of more than one module (Tarjan), each sorted, among the modules
    `within` selects (all by default)."""
    nodes = [node for node in edges if within is None or within(node)]
    keep = set(nodes)
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in keep:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            if len(group) > 1:
                found.append(sorted(group))

    for node in nodes:
        if node not in index:
            visit(node)
    return sorted(found)


def comment_lines(path):
    """{line: True when the line holds only a comment, False when the comment follows code} for the
    comments of `path` that say something (not only a tool directive)."""
    lines = {}
    with open(path, encoding="utf-8") as source:
        for token in tokenize.generate_tokens(source.readline):
            if token.type == tokenize.COMMENT and not TOOL_DIRECTIVE.fullmatch(token.string):
                lines[token.start[0]] = not token.line[: token.start[1]].strip()
    return lines


def unexplained(statements):
    """The imports inside functions with no comment on their lines or alone on the line just above; an
    import right below an explained one (a block of imports under one comment) is explained by it."""
    comments, out, explained_until = {}, [], {}
    for statement in sorted(statements, key=lambda s: (str(s.path), s.line)):
        if not statement.in_function:
            continue
        found = comments.setdefault(statement.path, comment_lines(statement.path))
        said = (found.get(statement.line - 1) is True
                or any(line in found for line in range(statement.line, statement.end_line + 1))
                or explained_until.get(statement.path) == statement.line - 1)
        if said:
            explained_until[statement.path] = statement.end_line
        else:
            out.append(statement)
    return out
