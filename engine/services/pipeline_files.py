"""Read pipeline definitions from JSON files and folders of them: for datp_load_pipelines and the Harness."""
import json
from pathlib import Path


class MissingPath(ValueError):
    """A path given to load is neither a file nor a folder."""


def json_files(paths):
    """Return the files `paths` name: each file itself, each folder's *.json in name order.
    Raise MissingPath for a path that is neither."""
    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(path.glob("*.json")))
        elif path.is_file():
            files.append(path)
        else:
            raise MissingPath(f"{raw}: no such file or folder")
    return files


def read_definitions(files):
    """Return ([(file name, definition)], problems): a file that is not JSON is a problem, not an exception."""
    definitions, problems = [], []
    for path in files:
        try:
            definitions.append((str(path), json.loads(path.read_text())))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{path}: not valid JSON ({exc})")
    return definitions, problems
