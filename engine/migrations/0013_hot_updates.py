"""Room on each page of the transaction and step-run tables for their rows' next versions (PostgreSQL).

A checkpoint that goes on updates no indexed column of the transaction (step, visit, lease...) and a step
run's end none of its own: with free space on the row's page PostgreSQL makes them HOT updates, which write no
index entry (the transaction table has 14 indexes). At the default fillfactor of 100 a page filled by inserts
has no room, so every such update wrote a new index entry in every index, and its WAL. Only new pages take
the setting; SQLite has no such parameter.
"""
from django.db import migrations

TABLES = {"engine_transaction": 70, "engine_steprun": 80}


def set_fillfactor(apps, schema_editor, *, reverse=False):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, fillfactor in TABLES.items():
        setting = "RESET (fillfactor)" if reverse else f"SET (fillfactor = {fillfactor})"
        schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} {setting}")


class Migration(migrations.Migration):
    dependencies = [("engine", "0012_fan_out")]

    operations = [
        migrations.RunPython(set_fillfactor, lambda apps, schema_editor: set_fillfactor(apps, schema_editor,
                                                                                         reverse=True)),
    ]
