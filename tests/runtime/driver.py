"""Run one engine action in a process of its own, against the database in DATABASE_URL; print JSON.

    python -m tests.runtime.driver start PIPELINE [N]      -> ["tx-...", ...]
    python -m tests.runtime.driver start_with PIPELINE JSON -> "tx-..." (JSON: its data)
    python -m tests.runtime.driver fanout TX_ID             -> {"facts": {...}, "problems": [...]}
    python -m tests.runtime.driver status TX_ID...          -> {"tx-...": "success", ...}
    python -m tests.runtime.driver set_switch TX NAME JSON  -> {"action": ...}
    python -m tests.runtime.driver runs TX_ID               -> [[step, status, attempt, node], ...]
    python -m tests.runtime.driver load PATH                -> loads pipeline JSON files
    python -m tests.runtime.driver key                      -> a new system API key of owner "test"
    python -m tests.runtime.driver nodes                    -> ids of the nodes registered and not stopping
"""
import json
import os
import sys


def main(argv):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datp_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from engine.models import StepRun, Transaction
    from engine.services.owners import owner_ensure
    from engine.services.switches import switch_set
    from engine.services.transactions import transaction_start

    command, args = argv[0], argv[1:]
    if command == "migrate":
        call_command("migrate", verbosity=0)
        owner_ensure(name="test")
        result = "ok"
    elif command == "load":
        call_command("datp_load_pipelines", *args, verbosity=0)
        result = "ok"
    elif command == "start":
        count = int(args[1]) if len(args) > 1 else 1
        result = [transaction_start(owner="test", transaction_type=args[0], data={"n": i})[0].pk
                  for i in range(count)]
    elif command == "start_with":
        result = transaction_start(owner="test", transaction_type=args[0], data=json.loads(args[1]))[0].pk
    elif command == "fanout":
        from tests.fanout_facts import fanout_facts, fanout_problems

        facts = fanout_facts(args[0])
        result = {"facts": facts, "problems": fanout_problems(facts)}
    elif command == "status":
        rows = Transaction.objects.filter(pk__in=args) if args else Transaction.objects.all()
        result = dict(rows.values_list("pk", "status"))
    elif command == "set_switch":
        result = switch_set(tx_id=args[0], name=args[1], value=json.loads(args[2]), actor="test")["action"]
    elif command == "runs":
        result = list(StepRun.objects.filter(tx_id=args[0]).order_by("seq").values_list(
            "step", "status", "attempt", "node"))
    elif command == "key":
        from engine.services.owners import api_key_create

        result = api_key_create(owner="test", name=f"key-{os.getpid()}", system=True)[1]
    elif command == "nodes":
        from engine.models import Node

        result = sorted(Node.objects.filter(stopping=False).values_list("pk", flat=True))
    elif command == "running":
        result = list(Transaction.objects.filter(status="running").values_list("pk", "node"))
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
