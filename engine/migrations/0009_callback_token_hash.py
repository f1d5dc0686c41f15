"""Callback tokens are stored only as their SHA-256: existing tokens are hashed (they keep working for
whoever holds them) and the plain column is dropped. Their salt stays empty: they cannot be derived
again, so the API shows no `waiting.url` for them. Going back leaves every token unusable (they are gone)."""
import hashlib

from django.db import migrations, models

BATCH = 1000


def hash_tokens(apps, schema_editor):
    Callback = apps.get_model("engine", "Callback")
    rows = Callback.objects.using(schema_editor.connection.alias).only("pk", "token").order_by("pk")
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last)[:BATCH])
        if not batch:
            return
        for callback in batch:
            callback.token_hash = hashlib.sha256(callback.token.encode()).hexdigest()
        Callback.objects.using(schema_editor.connection.alias).bulk_update(batch, ["token_hash"])
        last = batch[-1].pk


class Migration(migrations.Migration):

    dependencies = [
        ("engine", "0008_list_order_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="callback",
            name="token_hash",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="callback",
            name="token_salt",
            field=models.CharField(blank=True, default="", max_length=32),
        ),
        migrations.RunPython(hash_tokens, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="callback",
            name="token",
        ),
        migrations.AlterField(
            model_name="callback",
            name="token_hash",
            field=models.CharField(max_length=64, unique=True),
        ),
    ]
