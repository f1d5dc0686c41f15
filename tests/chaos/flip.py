"""Set switch `go` of the given transactions, in the given order, from a process of its own."""
import os
import sys


def main(tx_ids):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datp_site.settings")
    import django

    django.setup()
    from engine.services.switches import switch_set

    for tx_id in tx_ids:
        switch_set(tx_id=tx_id, name="go", value=True, actor=f"flipper:{os.getpid()}")


if __name__ == "__main__":
    main(sys.argv[1:])
