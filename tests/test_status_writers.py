"""Only the state layer (engine/services/state/) writes a transaction's status: no other module assigns
`.status` on a transaction, updates or inserts `Transaction` rows with a status, or has SQL that does."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / "engine" / "services" / "state"
# Other models' statuses, written by their own services: (module, the variable that holds the row).
OTHER_MODELS = {("engine/services/callbacks.py", "callback"), ("engine/services/webhooks.py", "delivery")}
SQL_WRITE = re.compile(r"(UPDATE\s+engine_transaction\b[^;]*?\bSET\b[^;]*?\bstatus\s*=|INSERT\s+INTO\s+engine_transaction\b)",
                       re.IGNORECASE | re.DOTALL)


def _base_name(node):
    """The name a chain like `Transaction.objects.filter(...).update` starts from, if any."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def status_writes(path):
    """Every place in `path` that writes a transaction's status: (line, what)."""
    relative = str(path.relative_to(ROOT)) if ROOT in path.parents else path.name
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            for target in getattr(node, "targets", [getattr(node, "target", None)]):
                if isinstance(target, ast.Attribute) and target.attr == "status":
                    if (relative, _base_name(target.value)) not in OTHER_MODELS:
                        found.append((node.lineno, f"{ast.unparse(target)} = ..."))
        elif isinstance(node, ast.Call):
            keywords = {keyword.arg for keyword in node.keywords}
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            writer = _base_name(node.func) == "Transaction" and called in (
                "update", "Transaction", "create", "update_or_create", "get_or_create")
            if writer and "status" in keywords:
                found.append((node.lineno, f"Transaction ...{called}(status=...)"))
            elif writer and None in keywords:  # `**fields`: may hold a status, so it counts as a write
                found.append((node.lineno, f"Transaction ...{called}(**...)"))
            if called == "setattr" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                    and node.args[1].value == "status":
                found.append((node.lineno, "setattr(..., 'status', ...)"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_WRITE.search(node.value):
            found.append((node.lineno, "SQL writing engine_transaction's status"))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
            if SQL_WRITE.search(text):
                found.append((node.lineno, "SQL writing engine_transaction's status"))
    return found


def _modules(folder):
    return [path for path in sorted(folder.rglob("*.py")) if "migrations" not in path.parts]


def test_no_module_outside_the_state_layer_writes_a_transaction_status():
    outside = [path for path in _modules(ROOT / "engine") if STATE not in path.parents]
    writes = [f"{path.relative_to(ROOT)}:{line}: {what}" for path in outside for line, what in status_writes(path)]
    assert writes == []


def test_the_scan_finds_the_writes_of_the_state_layer():
    """The scan is not blind: each kind of write it looks for is found where it lives."""
    found = {path.name: status_writes(path) for path in _modules(STATE)}
    assert any("tx.status = ..." in what for _line, what in found["move.py"])
    assert any("Transaction ...update(status=...)" in what for _line, what in found["wake.py"])
    assert any("Transaction ...update(**...)" in what for _line, what in found["claim.py"])
    for module in ("claim.py", "finish.py", "wake.py", "start.py"):
        assert any("SQL" in what for _line, what in found[module]), module
    assert any("Transaction ...Transaction(status=...)" in what for _line, what in found["start.py"])


def test_the_scan_catches_a_write_slipped_in_elsewhere(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text('def f(tx):\n    tx.status = "queued"\n    Transaction.objects.filter(pk=1).update(status="x")\n'
                       '    Transaction.objects.filter(pk=2).update(**fields)\n'
                       'SQL = "UPDATE engine_transaction SET note = 1, status = 2"\n')
    assert sorted(line for line, _what in status_writes(planted)) == [2, 3, 4, 5]
